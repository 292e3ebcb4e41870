//go:build unix && !linux

package local

import (
	"io"

	"golang.org/x/sys/unix"
)

// readDir reads the next batch of entries of the folder fd, without "."
// and "..". It returns io.EOF at the end. The type of each entry is left
// unknown (DT_UNKNOWN), so the walker looks at each one.
func (w *walker) readDir(fd int, ents []dirent) ([]dirent, error) {
	for {
		n, err := unix.ReadDirent(fd, w.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ents, err
		}
		if n <= 0 {
			return ents, io.EOF
		}
		var names []string
		_, _, names = unix.ParseDirent(w.buf[:n], -1, names)
		for _, name := range names {
			ents = append(ents, dirent{name: name, typ: unix.DT_UNKNOWN})
		}
		if len(ents) > 0 {
			return ents, nil
		}
	}
}
