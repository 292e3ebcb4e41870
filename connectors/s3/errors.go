package s3

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dovetail-sync/dovetail/connectors"
)

// classify turns an SDK error into a *connectors.Error of the right kind
// for op on path. Secrets cannot leak through it: the SDK's errors carry the
// server's code and message, never the request's credentials.
func classify(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	e := &connectors.Error{Kind: kindOf(err), Op: op, Path: path, Err: err}
	if e.Kind == connectors.RateLimited || e.Kind == connectors.Transient {
		e.RetryAfter = retryAfter(err)
	}
	return e
}

func kindOf(err error) connectors.ErrorKind {
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	switch code {
	case "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchUpload":
		return connectors.NotFound
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "AccountProblem", "ExpiredToken", "InvalidToken":
		return connectors.Permission
	case "PreconditionFailed", "ConditionalRequestConflict":
		return connectors.Precondition
	case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException":
		return connectors.RateLimited
	case "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed":
		return connectors.Transient
	case "EntityTooLarge", "KeyTooLongError", "InvalidObjectName", "EntityTooSmall":
		return connectors.Invalid
	case "QuotaExceeded", "XMinioStorageFull":
		return connectors.NoSpace
	}
	switch {
	case status == http.StatusNotFound:
		return connectors.NotFound
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return connectors.Permission
	case status == http.StatusPreconditionFailed:
		return connectors.Precondition
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return connectors.RateLimited
	case status == http.StatusInsufficientStorage:
		return connectors.NoSpace
	case status >= 500:
		return connectors.Transient
	case status != 0:
		return connectors.Unknown
	}
	var se *smithyhttp.RequestSendError
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return connectors.Unknown
	case errors.As(err, &se), errors.As(err, &ne),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return connectors.Transient
	}
	if k := connectors.KindOf(err); k != connectors.Unknown {
		return k
	}
	return connectors.Unknown
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) from the
// response err carries, or returns 0.
func retryAfter(err error) time.Duration {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return 0
	}
	v := re.Response.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// transientReader makes every failure of a download body an error of kind
// Transient (a dropped connection), so a short read is never mistaken for
// the end of the file.
type transientReader struct {
	body io.ReadCloser
	path string
	left int64 // bytes still expected, -1 if unknown
}

func (r *transientReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	if r.left >= 0 {
		r.left -= int64(n)
	}
	switch {
	case err == io.EOF && r.left > 0:
		return n, &connectors.Error{Kind: connectors.Transient, Op: "open", Path: r.path, Err: io.ErrUnexpectedEOF}
	case err != nil && err != io.EOF:
		if errors.Is(err, context.Canceled) {
			return n, &connectors.Error{Kind: connectors.Unknown, Op: "open", Path: r.path, Err: err}
		}
		return n, &connectors.Error{Kind: connectors.Transient, Op: "open", Path: r.path, Err: err}
	}
	return n, err
}

func (r *transientReader) Close() error { return r.body.Close() }
