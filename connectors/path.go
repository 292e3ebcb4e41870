package connectors

import (
	"errors"
	"path"
	"strings"
	"unicode/utf8"
)

// ValidPath reports whether p is acceptable as a relative path: "" (the
// root) or slash-separated names, none of them "", "." or "..", with no NUL
// byte, no leading or trailing slash, and valid UTF-8. Every path that comes
// from a remote listing passes through it before Dovetail acts on it, so a
// hostile name can never address anything outside the sync root.
func ValidPath(p string) error {
	if p == "" {
		return nil
	}
	if !utf8.ValidString(p) {
		return errors.New("name is not valid UTF-8")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return errors.New("name contains a NUL byte")
	}
	if p[0] == '/' {
		return errors.New("path is absolute")
	}
	for _, name := range strings.Split(p, "/") {
		switch name {
		case "":
			return errors.New("path has an empty element")
		case ".", "..":
			return errors.New("path has a " + name + " element")
		}
	}
	return nil
}

// Join joins a folder path and a name (either may be "").
func Join(dir, name string) string {
	switch {
	case dir == "":
		return name
	case name == "":
		return dir
	}
	return dir + "/" + name
}

// Parent returns the folder holding p, "" for a top-level name.
func Parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Base returns the last element of p.
func Base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Within reports whether p is dir itself or lies below it.
func Within(p, dir string) bool {
	if dir == "" {
		return true
	}
	return p == dir || (len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir)
}

// Rebase moves p from below oldDir to below newDir; p must be Within oldDir.
func Rebase(p, oldDir, newDir string) string {
	if p == oldDir {
		return newDir
	}
	rest := p[len(oldDir):]
	if oldDir == "" {
		rest = "/" + p
	}
	if newDir == "" {
		return rest[1:]
	}
	return newDir + rest
}

// Ext returns the extension of the last element of p, as path.Ext does, but
// treats a leading dot as part of the name (".bashrc" has none).
func Ext(p string) string {
	b := Base(p)
	e := path.Ext(b)
	if e == b {
		return ""
	}
	return e
}
