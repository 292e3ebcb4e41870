//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package statedb

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// fileLock is an exclusive flock on PATH.lock. flock locks belong to the open
// file description, so the kernel drops it when the process dies: a crash never
// leaves a stale lock behind, and the lock file itself is never removed (removing
// it would let two processes lock two different inodes).
type fileLock struct {
	f *os.File
}

// acquireLock takes the lock for the state file dbPath without waiting and
// records this process's pid in the lock file for the message the next
// process shows.
func acquireLock(dbPath string) (*fileLock, error) {
	name := dbPath + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file for state file %s: %w", dbPath, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := ""
			if b, rerr := os.ReadFile(name); rerr == nil {
				pid = strings.TrimSpace(string(b))
			}
			return nil, lockedError(dbPath, pid)
		}
		return nil, fmt.Errorf("lock state file %s: %w", dbPath, err)
	}
	// The pid is informational only; failing to write it does not weaken the lock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &fileLock{f: f}, nil
}

// release drops the lock. Closing the descriptor releases the flock.
func (l *fileLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
