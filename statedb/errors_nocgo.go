//go:build !cgo

package statedb

// sqliteCorruption never matches without cgo: go-sqlite3 is then a stub whose
// Open fails with its own "requires cgo" error. This file only keeps builds
// with CGO_ENABLED=0 (cross-compiles of other packages) compiling.
func sqliteCorruption(err error) (detail string, ok bool) { return "", false }
