package webdav

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// newClient returns the HTTP client of one connector. It never follows
// redirects: Go would turn a redirected PROPFIND into a GET, and a
// redirect could carry the password to another host.
func newClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.ResponseHeaderTimeout = 2 * time.Minute
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// url returns the percent-encoded URL of the relative path p; folders get
// a trailing slash.
func (c *Conn) url(p string, dir bool) string {
	s := c.base + "/" + escapeSegs(c.segsOf(p))
	if dir && !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s
}

// escapeSegs percent-encodes each name and joins them with slashes.
func escapeSegs(segs []string) string {
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// send makes one request for op on path p. body may be nil; size is its
// length (-1 if unknown). A failure to get an answer is a Transient error
// (or the context's error); any answer is returned, whatever its status.
func (c *Conn) send(ctx context.Context, op, p, method, target string, hdr http.Header, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, connectors.Errorf(connectors.Invalid, op, p, "building the request: %v", err)
	}
	if body != nil && body != http.NoBody {
		req.ContentLength = size
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.cfg.User != "" {
		req.SetBasicAuth(c.cfg.User, c.cfg.Password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, netError(ctx, op, p, err)
	}
	return resp, nil
}

// netError classifies a failure to talk to the server: the caller's
// cancellation stays what it is, everything else may work if retried.
func netError(ctx context.Context, op, p string, err error) error {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return &connectors.Error{Kind: connectors.KindOf(cerr), Op: op, Path: p, Err: cerr}
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		// Retrying will not make the certificate trusted.
		return &connectors.Error{Kind: connectors.Permission, Op: op, Path: p,
			Err: fmt.Errorf("the server's TLS certificate is not trusted (add its CA to the system's certificates): %w", cert)}
	}
	return &connectors.Error{Kind: connectors.Transient, Op: op, Path: p, Err: err}
}

// statusError turns an answer that is not a success into an error of the
// right kind, and closes its body. Callers handle the codes whose meaning
// depends on the method (405 and 409 for MKCOL, 412 for MOVE) first.
func (c *Conn) statusError(op, p string, resp *http.Response) error {
	drain(resp)
	e := &connectors.Error{Op: op, Path: p, Err: fmt.Errorf("server answered %s", resp.Status)}
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound || code == http.StatusGone:
		e.Kind = connectors.NotFound
	case code == http.StatusUnauthorized:
		e.Kind = connectors.Permission
		hint := "check the user name and the password in " + PasswordEnv
		switch {
		case c.cfg.User == "":
			hint = "the server wants a login: put the user in the URL (webdav+https://user@host/path) and the password in " + PasswordEnv
		case c.cfg.Password == "":
			hint = PasswordEnv + " is empty: set it to the password of " + strconv.Quote(c.cfg.User)
		}
		e.Err = fmt.Errorf("server answered %s: %s", resp.Status, hint)
	case code == http.StatusForbidden:
		e.Kind = connectors.Permission
		e.Err = fmt.Errorf("server answered %s: check the user name and the password in %s, and that the account may use this folder", resp.Status, PasswordEnv)
	case code == http.StatusPreconditionFailed:
		e.Kind = connectors.Precondition
	case code == http.StatusLocked:
		e.Kind = connectors.Transient
		e.Err = fmt.Errorf("server answered %s: another client holds a lock on it", resp.Status)
	case code == http.StatusTooManyRequests:
		e.Kind = connectors.RateLimited
		e.RetryAfter = retryAfter(resp.Header, time.Now())
	case code == http.StatusServiceUnavailable:
		e.Kind = connectors.Transient
		if d := retryAfter(resp.Header, time.Now()); d > 0 {
			e.Kind, e.RetryAfter = connectors.RateLimited, d
		}
	case code == http.StatusInsufficientStorage:
		e.Kind = connectors.NoSpace
	case code == http.StatusRequestEntityTooLarge || code == http.StatusRequestURITooLong:
		e.Kind = connectors.Invalid
	case code >= 500:
		e.Kind = connectors.Transient
	case code >= 300 && code < 400:
		e.Kind = connectors.Unknown
		e.Err = fmt.Errorf("server answered %s (to %q): put the address it redirects to in the URL", resp.Status, resp.Header.Get("Location"))
	default:
		e.Kind = connectors.Unknown
	}
	return e
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// drain reads a little of an unwanted body, so the connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// errRecorder remembers the first error other than io.EOF its reader
// returned, so a decoder's complaint about a cut-off body can be told
// apart from a malformed one.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// bodyReader is the content Open returns: it turns a connection that
// breaks mid-download into a Transient error.
type bodyReader struct {
	ctx    context.Context
	op, p  string
	r      io.Reader
	closer io.Closer
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = netError(b.ctx, b.op, b.p, err)
	}
	return n, err
}

func (b *bodyReader) Close() error { return b.closer.Close() }
