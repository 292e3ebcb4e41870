package local

import (
	"golang.org/x/sys/unix"
)

// syncfs flushes the whole file system holding fd.
func syncfs(fd int) error { return unix.Syncfs(fd) }

// renameNoReplace renames without ever replacing an existing target. It
// returns EEXIST if the target exists and errNoReplace if the file system
// cannot do that atomically.
func renameNoReplace(olddirfd int, oldname string, newdirfd int, newname string) error {
	err := unix.Renameat2(olddirfd, oldname, newdirfd, newname, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS || err == unix.ENOTSUP {
		return errNoReplace
	}
	return err
}
