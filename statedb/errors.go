package statedb

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test for them with errors.Is and act on the kind;
// the messages of the errors that wrap them are written for the user.
var (
	// ErrLocked means another Dovetail process holds the state file's lock.
	ErrLocked = errors.New("state file is in use")
	// ErrCorrupt means the state file is damaged; Reset moves it aside.
	ErrCorrupt = errors.New("state file is damaged")
	// ErrForeign means the file is a SQLite database of another application.
	ErrForeign = errors.New("not a Dovetail state file")
	// ErrTooNew means the file's schema is newer than this binary knows.
	ErrTooNew = errors.New("state file written by a newer Dovetail")
	// ErrNotFound means a row addressed by id does not exist.
	ErrNotFound = errors.New("not found")
)

// stateError carries a complete user-facing message, the sentinel kind for
// errors.Is, and the underlying cause for debugging with errors.As.
type stateError struct {
	msg   string
	kind  error
	cause error
}

func (e *stateError) Error() string { return e.msg }

func (e *stateError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func lockedError(path, pid string) error {
	if pid == "" {
		pid = "unknown"
	}
	return &stateError{
		msg:  fmt.Sprintf("state file %s is in use by another dovetail process (pid %s)", path, pid),
		kind: ErrLocked,
	}
}

func corruptError(path, detail string, cause error) error {
	return &stateError{
		msg: fmt.Sprintf("state file %s is damaged (%s). Run the same command with --reset-state: "+
			"the damaged file is kept as %s.broken-DATE-TIME and both sides are merged as on a first run, "+
			"which deletes nothing.", path, detail, path),
		kind:  ErrCorrupt,
		cause: cause,
	}
}

func foreignError(path, why string) error {
	return &stateError{
		msg: fmt.Sprintf("%s is not a Dovetail state file (%s); --state probably points at the wrong file",
			path, why),
		kind: ErrForeign,
	}
}

func tooNewError(path string, have, know int) error {
	return &stateError{
		msg: fmt.Sprintf("state file %s was written by a newer Dovetail (schema version %d, this binary knows up to %d); "+
			"upgrade Dovetail to use it", path, have, know),
		kind: ErrTooNew,
	}
}

// classify turns an error met while opening or checking path into the
// user-facing corrupt error when SQLite reports damage, and otherwise wraps it
// with what was being done.
func classify(path, doing string, err error) error {
	if err == nil {
		return nil
	}
	var st *stateError
	if errors.As(err, &st) {
		return err
	}
	if detail, ok := sqliteCorruption(err); ok {
		return corruptError(path, detail, err)
	}
	return fmt.Errorf("%s state file %s: %w", doing, path, err)
}

// quickCheckDetail condenses PRAGMA quick_check output to a short clause.
func quickCheckDetail(lines []string) string {
	const max = 3
	more := ""
	if len(lines) > max {
		more = fmt.Sprintf("; and %d more problems", len(lines)-max)
		lines = lines[:max]
	}
	return "integrity check: " + strings.Join(lines, "; ") + more
}
