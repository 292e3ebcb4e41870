package local

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// readDir reads the next batch of entries of the folder fd, without "."
// and "..". It returns io.EOF at the end.
func (w *walker) readDir(fd int, ents []dirent) ([]dirent, error) {
	for {
		n, err := unix.Getdents(fd, w.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ents, err
		}
		if n <= 0 {
			return ents, io.EOF
		}
		b := w.buf[:n]
		for len(b) >= direntNameOff {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name.
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < direntNameOff || reclen > len(b) {
				return ents, errors.New("malformed directory entry")
			}
			ino := binary.NativeEndian.Uint64(b[0:8])
			typ := b[18]
			name := b[direntNameOff:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			if ino == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			ents = append(ents, dirent{name: string(name), typ: typ})
		}
		if len(ents) > 0 {
			return ents, nil
		}
	}
}

const direntNameOff = 19
