//go:build unix && !linux

package local

import (
	"time"

	"golang.org/x/sys/unix"
)

// syncfs falls back to fsync of the root folder where syncfs(2) does not
// exist; files written since are then not guaranteed durable.
func syncfs(fd int) error { return unix.Fsync(fd) }

func renameNoReplace(olddirfd int, oldname string, newdirfd int, newname string) error {
	return errNoReplace
}

// oPath: there is no O_PATH here; folders used as handles for *at calls
// are opened for reading.
const oPath = unix.O_RDONLY

// openat2 does not exist: paths are resolved one element at a time.
func openat2(dirfd int, path string, flags int) (int, error) { return -1, unix.ENOSYS }

// setMtime sets the modification time of the open file fd (and its access
// time: futimes cannot leave it alone).
func setMtime(fd int, mtime time.Time) error {
	tv := unix.NsecToTimeval(mtime.UnixNano())
	return unix.Futimes(fd, []unix.Timeval{tv, tv})
}

// mtimeNs is st's modification time in Unix nanoseconds.
func mtimeNs(st *unix.Stat_t) int64 { return st.Mtim.Nano() }

// statTimes is st's access and modification times, for UtimesNanoAt.
func statTimes(st *unix.Stat_t) []unix.Timespec { return []unix.Timespec{st.Atim, st.Mtim} }
