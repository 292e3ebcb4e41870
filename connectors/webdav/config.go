package webdav

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// PasswordEnv names the environment variable ParseURL takes the password
// from. A password is never read from the URL: URLs end up in shell
// history, process lists and logs.
const PasswordEnv = "DOVETAIL_WEBDAV_PASSWORD"

// Config says which server and folder a connector uses and how it logs in.
// Print it freely: String, GoString and LogValue leave the password out.
type Config struct {
	// Scheme is "https" or "http".
	Scheme string
	// Host is "host" or "host:port" (IPv6 literals in brackets).
	Host string
	// Root is the folder on the server that is the connector's root, as
	// a slash-separated path without percent-encoding, such as
	// "/remote.php/dav/files/alice/Documents"; "" and "/" are the top.
	Root string
	// User and Password are sent with HTTP basic authentication when User
	// is not "".
	User     string
	Password string
	// InsecureHTTP allows plain http to a host that is not a loopback
	// address, which sends the password and the files unencrypted.
	InsecureHTTP bool
}

// ParseURL reads a URL of the form
//
//	webdav+https://user@host:port/path
//	webdav+http://user@127.0.0.1:port/path
//	webdav+http://user@nas.lan/path?insecure_http=true
//
// The password comes from the environment variable DOVETAIL_WEBDAV_PASSWORD.
// The only query parameter is insecure_http (a boolean): plain http is
// accepted for loopback hosts only, unless it is true.
func ParseURL(u *url.URL) (Config, error) {
	var cfg Config
	switch strings.ToLower(u.Scheme) {
	case "webdav+https":
		cfg.Scheme = "https"
	case "webdav+http":
		cfg.Scheme = "http"
	default:
		return Config{}, fmt.Errorf("webdav URL: scheme %q is not webdav+https or webdav+http", u.Scheme)
	}
	if u.Opaque != "" {
		return Config{}, fmt.Errorf("webdav URL: missing // after %s:", u.Scheme)
	}
	if u.Host == "" {
		return Config{}, errors.New("webdav URL: no host (want webdav+https://user@host/path)")
	}
	cfg.Host = u.Host
	if u.User != nil {
		if _, set := u.User.Password(); set {
			return Config{}, fmt.Errorf("webdav URL: remove the password from the URL and put it in the environment variable %s", PasswordEnv)
		}
		cfg.User = u.User.Username()
	}
	if u.Fragment != "" {
		return Config{}, fmt.Errorf("webdav URL: unexpected fragment #%s", u.Fragment)
	}
	segs, err := splitEscaped(u.EscapedPath())
	if err != nil {
		return Config{}, fmt.Errorf("webdav URL: path %q: %w", u.EscapedPath(), err)
	}
	cfg.Root = "/" + strings.Join(segs, "/")
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("webdav URL: query %q: %w", u.RawQuery, err)
	}
	for key, vals := range q {
		switch key {
		case "insecure_http":
			b, err := strconv.ParseBool(vals[len(vals)-1])
			if err != nil {
				return Config{}, fmt.Errorf("webdav URL: insecure_http=%q is not true or false", vals[len(vals)-1])
			}
			cfg.InsecureHTTP = b
		default:
			return Config{}, fmt.Errorf("webdav URL: unknown query parameter %q (the only one is insecure_http)", key)
		}
	}
	cfg.Password = os.Getenv(PasswordEnv)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks the fields, naming the first that is wrong.
func (c Config) Validate() error {
	if c.Scheme != "https" && c.Scheme != "http" {
		return fmt.Errorf("webdav: scheme %q is not https or http", c.Scheme)
	}
	u, err := url.Parse("//" + c.Host)
	if c.Host == "" || err != nil || u.Host != c.Host || u.User != nil || u.Hostname() == "" {
		return fmt.Errorf("webdav: host %q is not a host name or host:port", c.Host)
	}
	if _, err := rootSegments(c.Root); err != nil {
		return fmt.Errorf("webdav: root %q: %w", c.Root, err)
	}
	if c.User == "" && c.Password != "" {
		return errors.New("webdav: a password is set but no user: put the user in the URL (webdav+https://user@host/path)")
	}
	if c.Scheme == "http" && !c.InsecureHTTP && !isLoopback(u.Hostname()) {
		return fmt.Errorf("webdav: refusing plain http to %s: it would send the password and the files unencrypted; use webdav+https, or add ?insecure_http=true if the network is trusted", u.Hostname())
	}
	return nil
}

// String returns the configuration as a URL, without the password.
func (c Config) String() string {
	u := url.URL{Scheme: "webdav+" + c.Scheme, Host: c.Host, Path: c.Root}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	if c.InsecureHTTP {
		u.RawQuery = "insecure_http=true"
	}
	return u.String()
}

// GoString is String, so that %#v does not print the password either.
func (c Config) GoString() string { return "webdav.Config(" + c.String() + ")" }

// LogValue describes the configuration for log/slog, without the password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.String()),
		slog.Bool("password_set", c.Password != ""),
	)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// rootSegments splits a root path into its names.
func rootSegments(root string) ([]string, error) {
	var segs []string
	for _, s := range strings.Split(root, "/") {
		switch s {
		case "":
			continue
		case ".", "..":
			return nil, fmt.Errorf("has a %s element", s)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("contains a NUL byte")
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// splitEscaped splits a percent-encoded URL path into decoded names,
// ignoring empty elements; a name holding an encoded slash, "." or ".."
// is refused.
func splitEscaped(p string) ([]string, error) {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		switch {
		case d == "." || d == "..":
			return nil, fmt.Errorf("has a %s element", d)
		case strings.ContainsRune(d, '/'):
			return nil, fmt.Errorf("name %q holds a slash", d)
		case strings.IndexByte(d, 0) >= 0:
			return nil, fmt.Errorf("name %q holds a NUL byte", d)
		}
		segs = append(segs, d)
	}
	return segs, nil
}
