// Package dial opens the connector a remote argument names: a local path,
// or a URL whose scheme names the provider (sftp://, s3://,
// webdav+https://). It is the one place that knows every connector
// package, so the CLI and the agent treat all remotes alike.
package dial

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/local"
	"github.com/dovetail-sync/dovetail/connectors/resilient"
)

// Remote is an opened remote side.
type Remote struct {
	connectors.Connector
	// Name is how the remote is shown in messages and identifies the pair
	// in its state file: the absolute path, or the URL without secrets.
	Name string
	// LocalRoot is the folder of a local remote ("" for other kinds), so
	// that it can be watched for changes.
	LocalRoot string
	close     func() error
}

// Close releases the connection, if any.
func (r *Remote) Close() error {
	if r.close == nil {
		return nil
	}
	return r.close()
}

// Options qualify Open.
type Options struct {
	// Secret, if set, looks up a secret of the remote by name ("password",
	// "key_passphrase", "access_key_id", "secret_access_key",
	// "session_token"); "" means none, and the connector then looks in its
	// environment variables as documented. The agent passes the
	// connection's secrets from the keyring or the secrets file.
	Secret func(name string) string
	// BwLimit limits transfers to and from a network remote, in bytes per
	// second (0: no limit).
	BwLimit int64
	// Log receives retries of network remotes.
	Log *slog.Logger
}

func (o Options) secret(name string) string {
	if o.Secret == nil {
		return ""
	}
	return o.Secret(name)
}

// opener opens one URL scheme.
type opener func(ctx context.Context, u *url.URL, o Options) (connectors.Connector, func() error, error)

var schemes = map[string]opener{}

// register adds a scheme; the connector files of this package call it.
func register(scheme string, o opener) { schemes[scheme] = o }

// Schemes lists the URL schemes this build supports.
func Schemes() []string {
	out := make([]string, 0, len(schemes))
	for s := range schemes {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// IsURL reports whether arg looks like a URL rather than a local path.
func IsURL(arg string) bool {
	i := strings.Index(arg, "://")
	return i > 0 && !strings.ContainsAny(arg[:i], `/\`)
}

// Open opens the remote arg: a URL of a supported scheme or a local path.
func Open(ctx context.Context, arg string) (*Remote, error) { return OpenWith(ctx, arg, Options{}) }

// OpenWith is Open with options. Network remotes are wrapped with retries
// (package resilient) and the bandwidth limit.
func OpenWith(ctx context.Context, arg string, opts Options) (*Remote, error) {
	if !IsURL(arg) {
		root, err := filepath.Abs(arg)
		if err != nil {
			return nil, err
		}
		c, err := local.New(root, local.Options{TrashDir: filepath.Join(root, ".dovetail", "trash")})
		if err != nil {
			return nil, err
		}
		return &Remote{Connector: c, Name: root, LocalRoot: root}, nil
	}
	u, err := url.Parse(arg)
	if err != nil {
		return nil, fmt.Errorf("remote %q is not a valid URL: %v", Redact(arg), err)
	}
	o, ok := schemes[u.Scheme]
	if !ok {
		return nil, fmt.Errorf("remote %s: unknown scheme %q (this build supports %s, or a local path)",
			Redact(arg), u.Scheme, strings.Join(Schemes(), "://, ")+"://")
	}
	c, closeFn, err := o(ctx, u, opts)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", Redact(arg), err)
	}
	c = resilient.Wrap(c, resilient.Options{BwLimit: opts.BwLimit, Logger: opts.Log})
	return &Remote{Connector: c, Name: Redact(arg), close: closeFn}, nil
}

// Redact returns arg with any password in it replaced by "xxxxx", for
// messages and logs.
func Redact(arg string) string {
	u, err := url.Parse(arg)
	if err != nil || u.User == nil {
		return arg
	}
	return u.Redacted()
}
