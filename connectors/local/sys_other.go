//go:build unix && !linux

package local

import "golang.org/x/sys/unix"

// syncfs falls back to fsync of the root folder where syncfs(2) does not
// exist; files written since are then not guaranteed durable.
func syncfs(fd int) error { return unix.Fsync(fd) }

func renameNoReplace(olddirfd int, oldname string, newdirfd int, newname string) error {
	return errNoReplace
}
