package s3

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dovetail-sync/dovetail/connectors"
)

func apiError(status int, code string, header http.Header) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: header}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "from the server"},
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		kind  connectors.ErrorKind
		retry time.Duration
	}{
		{"NoSuchKey", apiError(404, "NoSuchKey", nil), connectors.NotFound, 0},
		{"HEAD 404", apiError(404, "NotFound", nil), connectors.NotFound, 0},
		{"AccessDenied", apiError(403, "AccessDenied", nil), connectors.Permission, 0},
		{"bad signature", apiError(403, "SignatureDoesNotMatch", nil), connectors.Permission, 0},
		{"412", apiError(412, "PreconditionFailed", nil), connectors.Precondition, 0},
		{"409 conditional conflict", apiError(409, "ConditionalRequestConflict", nil), connectors.Precondition, 0},
		{"SlowDown", apiError(503, "SlowDown", http.Header{"Retry-After": {"7"}}), connectors.RateLimited, 7 * time.Second},
		{"429", apiError(429, "", nil), connectors.RateLimited, 0},
		{"503 without code", apiError(503, "", http.Header{"Retry-After": {"2"}}), connectors.RateLimited, 2 * time.Second},
		{"500", apiError(500, "InternalError", nil), connectors.Transient, 0},
		{"502", apiError(502, "", nil), connectors.Transient, 0},
		{"key too long", apiError(400, "KeyTooLongError", nil), connectors.Invalid, 0},
		{"quota", apiError(403, "QuotaExceeded", nil), connectors.NoSpace, 0},
		{"other 400", apiError(400, "InvalidArgument", nil), connectors.Unknown, 0},
		{"connection reset", &smithyhttp.RequestSendError{Err: syscall.ECONNRESET}, connectors.Transient, 0},
		{"short body", io.ErrUnexpectedEOF, connectors.Transient, 0},
		{"deadline", context.DeadlineExceeded, connectors.Transient, 0},
		{"cancelled", context.Canceled, connectors.Unknown, 0},
		{"already classified", &connectors.Error{Kind: connectors.Exists}, connectors.Exists, 0},
	} {
		err := classify("put", "a/b", tc.err)
		var ce *connectors.Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: %T is not a *connectors.Error", tc.name, err)
			continue
		}
		if ce.Kind != tc.kind || ce.RetryAfter != tc.retry {
			t.Errorf("%s: kind %v retry %v, want %v %v", tc.name, ce.Kind, ce.RetryAfter, tc.kind, tc.retry)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: the cause is not kept", tc.name)
		}
	}
	if classify("op", "p", nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}

// chunky yields its data in small reads, then EOF.
type chunky struct{ s string }

func (c *chunky) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], c.s)
	c.s = c.s[n:]
	return n, nil
}

func TestExactReader(t *testing.T) {
	for _, tc := range []struct {
		data string
		size int64
		err  error
	}{
		{"hello world", 11, nil},
		{"", 0, nil},
		{"hello", 11, errTooShort},
		{"hello world!", 11, errTooLong},
		{"x", 0, errTooLong},
	} {
		r := &exactReader{r: &chunky{tc.data}, left: tc.size, path: "p"}
		got, err := io.ReadAll(r)
		if !errors.Is(err, tc.err) {
			t.Errorf("%q as %d bytes: error %v, want %v", tc.data, tc.size, err, tc.err)
		}
		if tc.err == nil && string(got) != tc.data {
			t.Errorf("%q as %d bytes: read %q", tc.data, tc.size, got)
		}
		if tc.err == errTooLong && int64(len(got)) >= tc.size && tc.size > 0 {
			t.Errorf("%q as %d bytes: handed out all %d bytes before noticing the excess", tc.data, tc.size, len(got))
		}
		if tc.err != nil && connectors.KindOf(err) != connectors.Invalid {
			t.Errorf("%q as %d bytes: kind %v, want Invalid", tc.data, tc.size, connectors.KindOf(err))
		}
	}
}

// TestWalker feeds the walker keys in S3's byte order, including ones a
// POSIX-backed test server cannot hold (a file and a folder of one name).
func TestWalker(t *testing.T) {
	type key struct {
		path   string
		marker bool
	}
	keys := []key{
		{path: "a"},                 // file "a" ...
		{path: "a b"},               // ... sorts before "a/", and so do
		{path: "a.txt"},             // these
		{path: "a", marker: true},   // ... then folder "a": a clash
		{path: "a/x"},               // skipped with it
		{path: "b", marker: true},   // folder b, marker first
		{path: "b/c/d/e"},           // implies b/c and b/c/d
		{path: "b/c/f"},             //
		{path: "b/g", marker: true}, // empty folder
		{path: "skip/1"},            // folder skip implied, SkipDir
		{path: "skip/2/3"},          // skipped
		{path: "t"},                 //
	}
	var items []item
	for _, k := range keys {
		e := connectors.Entry{Path: k.path, Kind: connectors.File}
		if k.marker {
			e.Kind = connectors.Dir
		}
		items = append(items, item{path: k.path, marker: k.marker, entry: e})
	}
	items = append(items[:1], append([]item{{path: "a//bad", err: errors.New("empty element")}}, items[1:]...)...)
	var got []string
	problems := map[string]bool{}
	w := walker{
		fn: func(e connectors.Entry) error {
			got = append(got, e.Kind.String()+" "+e.Path)
			if e.Path == "skip" {
				return connectors.SkipDir
			}
			return nil
		},
		problem: func(p string, err error) { problems[p] = true },
	}
	for _, it := range items {
		if err := w.add(it); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"file a", "file a b", "file a.txt",
		"folder b", "folder b/c", "folder b/c/d", "file b/c/d/e", "file b/c/f", "folder b/g",
		"folder skip", "file t",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("walker reported\n%q, want\n%q", got, want)
	}
	if !problems["a"] || !problems["a//bad"] || len(problems) != 2 {
		t.Errorf("problems at %v, want a (file and folder) and a//bad", problems)
	}
}
