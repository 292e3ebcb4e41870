package sftp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Environment variables the connector reads its secrets from.
const (
	// EnvPassword holds the login password, tried after keys and the agent.
	EnvPassword = "DOVETAIL_SFTP_PASSWORD"
	// EnvKeyPassphrase holds the passphrase of an encrypted private key.
	EnvKeyPassphrase = "DOVETAIL_SFTP_KEY_PASSPHRASE"
	// EnvAgent is the ssh-agent socket, as ssh(1) uses it.
	EnvAgent = "SSH_AUTH_SOCK"
)

// Config says where an SFTP remote is and how to log in. Password and
// KeyPassphrase are secrets: String and LogValue never show them.
type Config struct {
	// User is the login name; "" means the name of the local user.
	User string
	// Host is the server's name or address; Port its SSH port (0 means 22).
	Host string
	Port int
	// Path is the root folder: relative to the login folder (normally the
	// home folder) unless it starts with "/". "" is the login folder.
	Path string

	// KeyFiles are private keys to offer, in order. When empty, the default
	// keys ~/.ssh/id_ed25519, id_rsa and id_ecdsa are offered if they exist.
	// A key named here that cannot be read or decrypted is an error.
	KeyFiles []string
	// KeyPassphrase decrypts encrypted key files.
	KeyPassphrase string
	// AgentSocket is the ssh-agent socket whose keys are offered after the
	// key files; "" means no agent.
	AgentSocket string
	// Password is offered last (password and keyboard-interactive); ""
	// means none.
	Password string
	// KnownHosts is the known_hosts file the server's host key must be in;
	// "" means ~/.ssh/known_hosts.
	KnownHosts string

	// DialTimeout bounds connecting and the SSH handshake; 0 means 30s.
	DialTimeout time.Duration
	// KeepAlive is how often an idle connection is probed, so that a
	// server that stopped answering is noticed; 0 means 15s, < 0 never.
	KeepAlive time.Duration
	// NoTrash turns the .dovetail/trash folder off: deleted and replaced
	// files are then destroyed.
	NoTrash bool
}

// Addr returns "host:port".
func (c Config) Addr() string {
	port := c.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// String describes the remote as a URL without secrets.
func (c Config) String() string {
	u := url.URL{Scheme: "sftp", Host: c.Addr(), Path: "/" + c.Path}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	return u.String()
}

// LogValue logs the Config without its secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.String()),
		slog.Any("keys", c.KeyFiles),
		slog.Bool("agent", c.AgentSocket != ""),
		slog.Bool("password", c.Password != ""),
		slog.String("known_hosts", c.KnownHosts),
	)
}

// ParseURL reads a Config from sftp://[user@]host[:port][/path][?query],
// taking secrets from the environment (EnvPassword, EnvKeyPassphrase,
// EnvAgent). The path is relative to the login folder:
// sftp://u@h/Documents is the Documents folder in u's home folder, and
// sftp://u@h/~/Documents means the same; a second leading slash makes it
// absolute: sftp://u@h//srv/data is /srv/data. The query parameters are
// key (a private key file; may be repeated) and known_hosts (the
// known_hosts file); others are refused, and so is a password in the URL
// (it belongs in EnvPassword).
func ParseURL(u *url.URL) (Config, error) {
	return parseURL(u, os.Getenv)
}

func parseURL(u *url.URL, getenv func(string) string) (Config, error) {
	var cfg Config
	if u.Scheme != "sftp" {
		return cfg, fmt.Errorf("sftp: scheme is %q, want sftp", u.Scheme)
	}
	if u.Opaque != "" {
		return cfg, fmt.Errorf("sftp: URL must start with sftp:// (got sftp:%s)", u.Opaque)
	}
	if u.Fragment != "" {
		return cfg, fmt.Errorf("sftp: URL has a fragment (#%s); a # in a folder name must be written %%23", u.Fragment)
	}
	cfg.Host = u.Hostname()
	if cfg.Host == "" {
		return cfg, errors.New("sftp: URL has no host (want sftp://user@host/path)")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return cfg, fmt.Errorf("sftp: port %q is not a number from 1 to 65535", p)
		}
		cfg.Port = n
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		if _, ok := u.User.Password(); ok {
			// URLs end up in shell history, process lists and logs.
			return cfg, fmt.Errorf("sftp: the URL holds a password; remove it and set %s instead", EnvPassword)
		}
	}
	root, err := rootPath(u.Path)
	if err != nil {
		return cfg, err
	}
	cfg.Path = root
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return cfg, fmt.Errorf("sftp: query %q: %v", u.RawQuery, err)
	}
	for k, vs := range q {
		switch k {
		case "key":
			for _, v := range vs {
				if v == "" {
					return cfg, errors.New("sftp: key= is empty (want key=/path/to/private_key)")
				}
				cfg.KeyFiles = append(cfg.KeyFiles, expandHome(v))
			}
		case "known_hosts":
			if len(vs) != 1 || vs[0] == "" {
				return cfg, errors.New("sftp: known_hosts= must name one file")
			}
			cfg.KnownHosts = expandHome(vs[0])
		default:
			return cfg, fmt.Errorf("sftp: unknown URL parameter %q (known: key, known_hosts)", k)
		}
	}
	if pw := getenv(EnvPassword); pw != "" {
		cfg.Password = pw
	}
	cfg.KeyPassphrase = getenv(EnvKeyPassphrase)
	cfg.AgentSocket = getenv(EnvAgent)
	return cfg, nil
}

// rootPath turns a URL path into Config.Path: "" or "/" is the login
// folder, "/a/b" and "/~/a/b" are "a/b" below it, "//a/b" is "/a/b".
func rootPath(p string) (string, error) {
	abs := strings.HasPrefix(p, "//")
	p = strings.TrimPrefix(p, "/")
	if !abs {
		if p == "~" {
			p = ""
		}
		p = strings.TrimPrefix(p, "~/")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", errors.New("sftp: URL path contains a NUL byte")
	}
	for _, el := range strings.Split(strings.Trim(p, "/"), "/") {
		if el == ".." {
			return "", fmt.Errorf("sftp: URL path %q has a .. element", p)
		}
	}
	if abs {
		return path.Clean(p), nil
	}
	if p = path.Clean(p); p == "." {
		p = ""
	}
	return p, nil
}

// expandHome replaces a leading "~/" with the local home folder.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// withDefaults fills in the user, port, key files, known_hosts and
// timeouts a Config leaves empty.
func (c Config) withDefaults() Config {
	if c.User == "" {
		if u, err := user.Current(); err == nil {
			c.User = u.Username
		}
	}
	if c.Port == 0 {
		c.Port = 22
	}
	home, _ := os.UserHomeDir()
	if c.KnownHosts == "" && home != "" {
		c.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 30 * time.Second
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 15 * time.Second
	}
	return c
}

// defaultKeyFiles are the keys offered when Config.KeyFiles is empty.
func defaultKeyFiles() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_rsa", "id_ecdsa"} {
		out = append(out, filepath.Join(home, ".ssh", n))
	}
	return out
}
