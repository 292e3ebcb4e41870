//go:build cgo

package statedb

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

// sqliteCorruption reports whether err is SQLite saying the file is damaged
// or not a database at all, with SQLite's short description of which.
func sqliteCorruption(err error) (detail string, ok bool) {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB) {
		return se.Code.Error(), true
	}
	return "", false
}
