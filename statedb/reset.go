package statedb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// companions are the files SQLite keeps beside a database. They are moved
// together with it and keep their suffix, so the moved-aside copy still opens
// with its last transactions.
var companions = []string{"-wal", "-shm", "-journal"}

// Reset moves the state file at path and its -wal, -shm and -journal companions
// aside to path+".broken-YYYYMMDD-HHMMSS" (plus the same suffixes) and returns
// the new name of the database file, so the next Open starts empty and the next
// sync runs as a first run. It never deletes anything. It returns "" and a nil
// error when nothing existed, and fails with [ErrLocked] while another Dovetail
// process has the file open.
func Reset(path string) (movedTo string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("reset state file %s: %w", path, err)
	}
	path = abs
	if _, err := os.Stat(filepath.Dir(path)); errors.Is(err, fs.ErrNotExist) {
		return "", nil // no folder, no state file, and no lock file to create
	}
	lock, err := acquireLock(path)
	if err != nil {
		return "", err
	}
	defer lock.release()
	return moveAside(path, false)
}

// moveAside renames path's companions and, unless companionsOnly, path
// itself to a fresh ".broken-" name that collides with nothing already there.
// The companions go first: a crash half-way must never leave an old WAL
// next to a database it does not belong to. It returns the database's new
// name, or the name the companions were given when the database was absent,
// or "" when there was nothing to move.
func moveAside(path string, companionsOnly bool) (string, error) {
	var present []string
	suffixes := append([]string(nil), companions...)
	if !companionsOnly {
		suffixes = append(suffixes, "")
	}
	for _, s := range suffixes {
		if _, err := os.Lstat(path + s); err == nil {
			present = append(present, s)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reset state file %s: %w", path, err)
		}
	}
	if len(present) == 0 {
		return "", nil
	}
	target, err := freeBrokenName(path, time.Now())
	if err != nil {
		return "", err
	}
	for _, s := range present {
		if err := os.Rename(path+s, target+s); err != nil {
			return "", fmt.Errorf("reset state file %s: move %s aside: %w", path, path+s, err)
		}
	}
	return target, nil
}

// freeBrokenName returns path.broken-STAMP, adding -2, -3 ... when a file of
// that name (or one of its companions) already exists, so nothing is overwritten.
func freeBrokenName(path string, now time.Time) (string, error) {
	base := path + ".broken-" + now.Format("20060102-150405")
	for n := 1; n < 1000; n++ {
		name := base
		if n > 1 {
			name = base + "-" + strconv.Itoa(n)
		}
		taken := false
		for _, s := range append([]string{""}, companions...) {
			if _, err := os.Lstat(name + s); !errors.Is(err, fs.ErrNotExist) {
				taken = true
				break
			}
		}
		if !taken {
			return name, nil
		}
	}
	return "", fmt.Errorf("reset state file %s: too many %s* files", path, base)
}
