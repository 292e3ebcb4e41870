package local

import (
	"unsafe"

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

func openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	return unix.Openat2(dirfd, path, how)
}

// futimens sets the times of the open file fd (utimensat with a NULL path).
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
