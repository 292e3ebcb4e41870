package connectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"
)

// ErrorKind is the closed set of failure classes callers act on. Callers
// branch on the kind (KindOf), never on an error's message.
type ErrorKind int

const (
	// Unknown is any failure that fits no other kind; it is not retried.
	Unknown ErrorKind = iota
	// NotFound: the object does not exist.
	NotFound
	// Exists: something is already at the path (a file where a folder was
	// wanted, or the reverse).
	Exists
	// Precondition: a conditional write or delete found a different version,
	// or a folder to delete is not empty.
	Precondition
	// Permission: the connector may not read or write the object.
	Permission
	// Transient: a failure that may succeed if retried (a dropped connection,
	// a 5xx answer, a timeout).
	Transient
	// RateLimited: the provider asked to slow down; RetryAfter says how long.
	RateLimited
	// Unimplemented: the connector cannot do this at all.
	Unimplemented
	// Invalid: the path or content breaks a rule of the connector (a name it
	// cannot store, a file too big). Retrying will not help.
	Invalid
	// NoSpace: the destination is full or over quota.
	NoSpace
)

var kindNames = [...]string{
	Unknown:       "error",
	NotFound:      "not found",
	Exists:        "already exists",
	Precondition:  "changed meanwhile",
	Permission:    "permission denied",
	Transient:     "temporary failure",
	RateLimited:   "rate limited",
	Unimplemented: "not supported",
	Invalid:       "not allowed",
	NoSpace:       "no space left",
}

func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is the error type connectors return.
type Error struct {
	Kind ErrorKind
	Op   string // "put", "open", "walk", ...
	Path string
	Err  error // the underlying cause; may be nil
	// RetryAfter is the wait a RateLimited (or Transient) answer asked for.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Path != "" {
		msg += " " + quote(e.Path)
	}
	msg += ": " + e.Kind.String()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func quote(p string) string {
	if p == "" {
		return "/"
	}
	return fmt.Sprintf("%q", p)
}

// Errorf builds an *Error of kind k for op on path.
func Errorf(k ErrorKind, op, path string, format string, args ...any) error {
	return &Error{Kind: k, Op: op, Path: path, Err: fmt.Errorf(format, args...)}
}

// Wrap classifies err (see KindOf) and wraps it as an *Error for op on path.
// It returns nil for a nil err and err itself if it already is an *Error.
func Wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: KindOf(err), Op: op, Path: path, Err: err}
}

// KindOf returns the kind of err: the Kind of an *Error in its chain, or a
// classification of common operating-system errors.
func KindOf(err error) ErrorKind {
	if err == nil {
		return Unknown
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return NotFound
	case errors.Is(err, fs.ErrExist), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTDIR):
		return Exists
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return Permission
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return NoSpace
	case errors.Is(err, syscall.ENOTEMPTY):
		return Precondition
	case errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.EILSEQ):
		return Invalid
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EIO):
		return Transient
	}
	return Unknown
}

// IsNotFound reports whether err is of kind NotFound.
func IsNotFound(err error) bool { return KindOf(err) == NotFound }

// Retryable reports whether an operation that failed with err may succeed if
// tried again later.
func Retryable(err error) bool {
	k := KindOf(err)
	return k == Transient || k == RateLimited
}
