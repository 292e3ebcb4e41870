package local

import (
	"time"
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

// oPath opens a file or folder as a handle for *at calls only (no read
// permission needed).
const oPath = unix.O_PATH

// openat2 opens path below dirfd with flags, following no symbolic link
// anywhere in path and never leaving dirfd's tree (the kernel checks).
func openat2(dirfd int, path string, flags int) (int, error) {
	return unix.Openat2(dirfd, path, &unix.OpenHow{Flags: uint64(flags),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS})
}

// setMtime sets the modification time of the open file fd, leaving its
// access time alone.
func setMtime(fd int, mtime time.Time) error {
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime.UnixNano())}
	return futimens(fd, &ts)
}

// mtimeNs is st's modification time in Unix nanoseconds.
func mtimeNs(st *unix.Stat_t) int64 { return st.Mtim.Nano() }

// statTimes is st's access and modification times, for UtimesNanoAt.
func statTimes(st *unix.Stat_t) []unix.Timespec { return []unix.Timespec{st.Atim, st.Mtim} }

// futimens sets the times of the open file fd (utimensat with a NULL path).
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
