package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dovetail-sync/dovetail/rules"
	"gopkg.in/yaml.v3"
)

// Connection is a named storage connection: its type and its parameters
// as written (numbers and booleans as text). Secrets are not among them;
// see Secrets.
type Connection struct {
	// Type is sftp, s3, webdav or local.
	Type string
	// Params are the other keys of the connection, such as host and port.
	Params map[string]string

	lines map[string]int
}

// Param returns the parameter name, or "" if it is not set.
func (c *Connection) Param(name string) string { return c.Params[name] }

// connParams are the parameters each connection type accepts, besides
// type and rules.
var connParams = map[string][]string{
	"sftp":   {"host", "port", "user", "key_file", "known_hosts", "path"},
	"s3":     {"bucket", "prefix", "endpoint", "region", "path_style"},
	"webdav": {"url", "user"},
	"local":  {"path"},
}

// requiredParams must be set for each type.
var requiredParams = map[string][]string{
	"sftp": {"host"}, "s3": {"bucket"}, "webdav": {"url"}, "local": {"path"},
}

// pathParams are file or folder paths, in which "~" is expanded.
var pathParams = map[string]bool{"key_file": true, "known_hosts": true}

// connSecrets are the secrets each connection type may need; the agent
// asks Secrets for them by these names.
var connSecrets = map[string][]string{
	"sftp":   {"password", "key_passphrase"},
	"s3":     {"access_key_id", "secret_access_key", "session_token"},
	"webdav": {"password"},
	"local":  nil,
}

// secretKeys are refused in the configuration file whatever the type.
var secretKeys = []string{
	"password", "pass", "passwd", "passphrase", "key_passphrase", "secret", "secret_key",
	"secret_access_key", "access_key_id", "session_token", "token", "access_token",
	"refresh_token", "client_secret", "api_key", "apikey",
}

// Types lists the connection types.
func Types() []string {
	out := make([]string, 0, len(connParams))
	for t := range connParams {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// SecretNames lists the secrets a connection of type typ may use, by the
// names they have in the secrets file and the keyring.
func SecretNames(typ string) []string { return slices.Clone(connSecrets[typ]) }

// decodeNode reads "type" and every other key as a text parameter.
func (c *Connection) decodeNode(d *decoder, n *yaml.Node, p string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, p, "want a mapping (type: ..., host: ...), got %s", kindName(n))
		return
	}
	c.Params = map[string]string{}
	c.lines = map[string]int{}
	for _, kv := range d.pairs(n, p) {
		k, v := kv[0], kv[1]
		for v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		kp := join(p, k.Value)
		d.lines[kp] = k.Line
		if v.Kind != yaml.ScalarNode {
			d.fail(v, kp, "want a single value, got %s", kindName(v))
			continue
		}
		if k.Value == "type" {
			c.Type = v.Value
			continue
		}
		c.Params[k.Value] = v.Value
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

const nameRule = "use 1 to 64 lowercase letters, digits, '-' and '_', starting with a letter or digit"

// validate checks one connection; secretsFile is where secrets go.
func (c *Connection) validate(v *validator, name, secretsFile string) {
	p := "connections." + name
	if !nameRE.MatchString(name) {
		v.add(p, "connection name %q: %s", name, nameRule)
	}
	known, ok := connParams[c.Type]
	switch {
	case c.Type == "":
		v.add(p, "type is missing (one of %s)", strings.Join(Types(), ", "))
	case !ok:
		v.add(p+".type", "unknown connection type %q (one of %s)", c.Type, strings.Join(Types(), ", "))
	}
	for _, k := range sortedKeys(c.Params) {
		val := c.Params[k]
		kp := p + "." + k
		switch {
		case slices.Contains(secretKeys, strings.ToLower(k)):
			v.add(kp, "secrets do not belong in the configuration file, which is often readable by others and copied around. "+
				"Remove it here and put it in %s (mode 0600) as\n    %s:\n      %s: ...\n  or in the OS keyring under service %q, key %q",
				secretsFile, name, k, keyringService, name+"/"+k)
			continue
		case k == "rules":
			if _, err := rules.Lookup(val); err != nil {
				v.add(kp, "%v", err)
			}
			continue
		case !ok:
			continue // the type is already reported
		case !slices.Contains(known, k):
			msg := fmt.Sprintf("unknown key %q for a %s connection", k, c.Type)
			if s := suggest(k, append(slices.Clone(known), "type", "rules")); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (known keys: " + strings.Join(known, ", ") + ", rules)"
			}
			v.add(kp, "%s", msg)
			continue
		}
		c.validateParam(v, kp, k, val)
	}
	for _, k := range requiredParams[c.Type] {
		if _, set := c.Params[k]; !set && !v.c.failed[p+"."+k] {
			v.add(p, "%s is missing (a %s connection needs it)", k, c.Type)
		}
	}
}

func (c *Connection) validateParam(v *validator, kp, k, val string) {
	switch k {
	case "port":
		if n, err := strconv.Atoi(val); err != nil || n < 1 || n > 65535 {
			v.add(kp, "%q is not a port number (1 to 65535)", val)
		}
	case "path_style":
		if _, err := strconv.ParseBool(val); err != nil {
			v.add(kp, "want true or false, got %q", val)
		}
	case "key_file", "known_hosts":
		if !filepath.IsAbs(val) {
			v.add(kp, "%q is not an absolute path", val)
		}
	case "path":
		if c.Type == "local" && !filepath.IsAbs(val) {
			v.add(kp, "%q is not an absolute path", val)
		}
	case "host":
		if strings.ContainsAny(val, "/@: ") && net.ParseIP(val) == nil {
			v.add(kp, "%q is not a host name (give the user and port as user and port)", val)
		}
	case "endpoint":
		if u, err := url.Parse(val); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(kp, "%q is not an http:// or https:// URL", val)
		}
	case "url":
		u, err := url.Parse(val)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.add(kp, "%q is not an http:// or https:// URL", redactURL(val))
		case u.User != nil:
			if _, hasPw := u.User.Password(); hasPw {
				v.add(kp, "the URL holds a password; remove it and put it in the secrets file or keyring as %q", "password")
			} else {
				v.add(kp, "give the user as user, not in the URL")
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// redactURL hides a password in a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// RemoteKind says what a task's remote names.
type RemoteKind int

const (
	// RemoteLocal is a local folder.
	RemoteLocal RemoteKind = iota + 1
	// RemoteURL is a URL such as sftp://host/path.
	RemoteURL
	// RemoteConnection is "NAME:path", a folder of a named connection.
	RemoteConnection
)

// Remote is a task's remote side, resolved.
type Remote struct {
	Kind RemoteKind
	// Arg is what connectors/dial opens: the absolute local path, or a URL
	// without secrets (for a connection, built from its parameters).
	Arg string
	// ConnectionName and Connection are set for RemoteConnection; the
	// connection's secrets are looked up under ConnectionName.
	ConnectionName string
	Connection     *Connection
	// Path is the folder within the connection, for RemoteConnection.
	Path string
}

var connRefRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_-]*):(.*)$`)

// Remote resolves the remote of task t.
func (c *Config) Remote(t *Task) (Remote, error) {
	r := strings.TrimSpace(t.Remote)
	switch {
	case r == "":
		return Remote{}, fmt.Errorf("remote is missing (CONNECTION:path, a URL such as sftp://host/path, or an absolute local path)")
	case isURL(r):
		u, err := url.Parse(r)
		if err != nil {
			return Remote{}, fmt.Errorf("%q is not a valid URL: %v", redactURL(r), err)
		}
		if u.User != nil {
			if _, hasPw := u.User.Password(); hasPw {
				return Remote{}, fmt.Errorf("the URL %s holds a password; define a connection and put the password in the secrets file or keyring", u.Redacted())
			}
		}
		return Remote{Kind: RemoteURL, Arg: r}, nil
	case filepath.IsAbs(r):
		return Remote{Kind: RemoteLocal, Arg: filepath.Clean(r)}, nil
	}
	m := connRefRE.FindStringSubmatch(r)
	if m == nil {
		return Remote{}, fmt.Errorf("%q is not CONNECTION:path, a URL such as sftp://host/path, or an absolute local path", r)
	}
	conn := c.Connections[m[1]]
	if conn == nil {
		names := sortedKeys(c.Connections)
		if len(names) == 0 {
			return Remote{}, fmt.Errorf("no connection named %q: there are no connections (define it under connections:)", m[1])
		}
		return Remote{}, fmt.Errorf("no connection named %q (connections: %s)", m[1], strings.Join(names, ", "))
	}
	arg, err := conn.URL(m[2])
	if err != nil {
		return Remote{}, err
	}
	return Remote{Kind: RemoteConnection, Arg: arg, ConnectionName: m[1], Connection: conn, Path: m[2]}, nil
}

// isURL reports whether s looks like a URL rather than a path.
func isURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.ContainsAny(s[:i], `/\:`)
}

// URL returns what connectors/dial opens for folder sub of the
// connection: a URL without secrets, or a local path. sub is relative to
// the connection's base folder (path, prefix or the URL's path).
func (c *Connection) URL(sub string) (string, error) {
	q := url.Values{}
	set := func(key, param string) {
		if v := c.Params[param]; v != "" {
			q.Set(key, v)
		}
	}
	var u url.URL
	switch c.Type {
	case "local":
		return filepath.Join(c.Params["path"], filepath.FromSlash(sub)), nil
	case "sftp":
		u = url.URL{Scheme: "sftp", Host: c.Params["host"], Path: "/" + strings.TrimPrefix(path.Join(c.Params["path"], sub), "/")}
		if p := c.Params["port"]; p != "" {
			u.Host = net.JoinHostPort(c.Params["host"], p)
		}
		if user := c.Params["user"]; user != "" {
			u.User = url.User(user)
		}
		set("key", "key_file")
		set("known_hosts", "known_hosts")
	case "s3":
		u = url.URL{Scheme: "s3", Host: c.Params["bucket"], Path: "/" + strings.TrimPrefix(path.Join(c.Params["prefix"], sub), "/")}
		set("endpoint", "endpoint")
		set("region", "region")
		set("path_style", "path_style")
	case "webdav":
		base, err := url.Parse(c.Params["url"])
		if err != nil {
			return "", fmt.Errorf("webdav url: %v", err)
		}
		u = *base
		u.Scheme = "webdav+" + base.Scheme
		u.Path = "/" + strings.TrimPrefix(path.Join(base.Path, sub), "/")
		u.RawPath = ""
		if user := c.Params["user"]; user != "" {
			u.User = url.User(user)
		}
	default:
		return "", fmt.Errorf("unknown connection type %q", c.Type)
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// MarshalYAML writes the connection as one mapping, type first.
func (c *Connection) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k, v string) {
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: k},
			&yaml.Node{Kind: yaml.ScalarNode, Value: v})
	}
	add("type", c.Type)
	for _, k := range sortedKeys(c.Params) {
		add(k, c.Params[k])
	}
	return n, nil
}
