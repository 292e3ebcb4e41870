//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package statedb

import (
	"errors"
	"fmt"
)

// fileLock is not implemented on this platform yet.
type fileLock struct{}

// acquireLock refuses to open a state file without the single-process
// guarantee rather than silently running unlocked.
func acquireLock(dbPath string) (*fileLock, error) {
	return nil, fmt.Errorf("lock state file %s: %w", dbPath,
		errors.New("file locking is not implemented on this platform"))
}

func (l *fileLock) release() error { return nil }
