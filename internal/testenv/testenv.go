// Package testenv helps tests that need a real server or tool (sshd,
// versitygw, Apache, rclone, chromium) find it, and decides what happens
// when it is missing: under CI=true the test fails, so a broken CI machine
// never turns into a green run of skipped tests; elsewhere it is skipped
// with a message that says what to install.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1" || v == "yes"
}

// Need reports a missing prerequisite: it fails t under CI and skips it
// otherwise. The message should say what is missing and how to get it.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("missing prerequisite (CI=true, so this is a failure): "+format, args...)
	}
	t.Skipf("skipped, missing prerequisite: "+format, args...)
}

// Tool returns the path of the program name, searching $PATH, then the
// extra folders given (such as /usr/sbin or $(go env GOPATH)/bin). If it is
// not found, Need is called with install as the hint.
func Tool(t testing.TB, name, install string, extra ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range extra {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	Need(t, "%s not found (%s; `make deps` installs it)", name, install)
	return ""
}

// GoBin returns the folder `go install` puts programs in.
func GoBin() string {
	if d := os.Getenv("GOBIN"); d != "" {
		return d
	}
	if d := os.Getenv("GOPATH"); d != "" {
		return filepath.Join(strings.Split(d, string(os.PathListSeparator))[0], "bin")
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		return filepath.Join(strings.TrimSpace(string(out)), "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
