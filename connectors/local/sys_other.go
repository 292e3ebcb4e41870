//go:build unix && !linux

package local

import "golang.org/x/sys/unix"

// syncfs falls back to fsync of the root folder where syncfs(2) does not
// exist; files written since are then not guaranteed durable.
func syncfs(fd int) error { return unix.Fsync(fd) }

func renameNoReplace(olddirfd int, oldname string, newdirfd int, newname string) error {
	return errNoReplace
}

// openat2 does not exist: paths are resolved one element at a time.
func openat2(dirfd int, path string, how *unix.OpenHow) (int, error) { return -1, unix.ENOSYS }

func futimens(fd int, ts *[2]unix.Timespec) error { return unix.ENOSYS }
