package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/zalando/go-keyring"
	"gopkg.in/yaml.v3"
)

// keyringService is the service name of Dovetail's keyring entries; the
// key of an entry is "CONNECTION/SECRET", such as "nas/password".
const keyringService = "dovetail"

// ErrNoSecret is wrapped by Secrets.Get when no source holds the secret.
var ErrNoSecret = errors.New("secret not set")

// errKeyringUnavailable is wrapped when the OS keyring cannot be reached
// (no D-Bus Secret Service on a NAS, say).
var errKeyringUnavailable = errors.New("OS keyring unavailable")

// Secrets finds the secrets of connections: passwords, secret keys and
// tokens, named as in SecretNames. Get returns an error wrapping
// ErrNoSecret when the secret is not set; errors never contain a secret.
type Secrets interface {
	Get(conn, name string) (string, error)
}

// FileSecrets are secrets read from a YAML file of mode 0600 that maps
// each connection name to its secrets:
//
//	nas:
//	  password: correct horse battery staple
type FileSecrets struct {
	path string
	m    map[string]map[string]string
}

// LoadSecretsFile reads the secrets file at path. A file that does not
// exist holds no secrets; a file that others may read (mode wider than
// 0600) is refused, and so is one that is not a mapping of connection
// names to mappings of secret names to values.
func LoadSecretsFile(path string) (*FileSecrets, error) {
	s := &FileSecrets{path: path, m: map[string]map[string]string{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("secrets file %s has mode %04o, so other users may read it: make it private with \"chmod 600 %s\" (and change the secrets in it if others could read them)", path, mode, path)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(f).Decode(&doc); err != nil {
		if p := syntaxProblem(path, err); p.Line > 0 {
			return nil, fmt.Errorf("secrets file %s:%d: not valid YAML", path, p.Line)
		}
		if errors.Is(err, io.EOF) {
			return s, nil // an empty file
		}
		return nil, fmt.Errorf("secrets file %s: not valid YAML", path)
	}
	// Walk the tree by hand: yaml.v3's own messages quote values, and
	// values here are secrets.
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return s, nil
	}
	bad := func(n *yaml.Node, what string) error {
		return fmt.Errorf("secrets file %s:%d: %s (the file maps connection names to their secrets, such as\n  nas:\n    password: ...)", path, n.Line, what)
	}
	if root.Kind != yaml.MappingNode {
		return nil, bad(root, "want connection names at the top level")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		conn, body := root.Content[i], root.Content[i+1]
		if body.Kind != yaml.MappingNode {
			return nil, bad(body, fmt.Sprintf("connection %q: want secret names and values under it", conn.Value))
		}
		if s.m[conn.Value] != nil {
			return nil, bad(conn, fmt.Sprintf("connection %q given twice", conn.Value))
		}
		s.m[conn.Value] = map[string]string{}
		for j := 0; j+1 < len(body.Content); j += 2 {
			k, v := body.Content[j], body.Content[j+1]
			if v.Kind != yaml.ScalarNode {
				return nil, bad(v, fmt.Sprintf("%s.%s: want a single value", conn.Value, k.Value))
			}
			s.m[conn.Value][k.Value] = v.Value
		}
	}
	return s, nil
}

// Get returns the secret name of connection conn.
func (s *FileSecrets) Get(conn, name string) (string, error) {
	if v, ok := s.m[conn][name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("%s has no %s.%s: %w", s.path, conn, name, ErrNoSecret)
}

// KeyringSecrets are secrets in the OS keyring (Secret Service on Linux,
// Keychain on macOS, Credential Manager on Windows), under service
// "dovetail" and key "CONNECTION/SECRET". Once the keyring has proved
// unreachable, it is not asked again: each attempt can cost a D-Bus
// round trip or time-out.
type KeyringSecrets struct {
	mu          sync.Mutex
	unavailable error
}

// Get returns the secret name of connection conn from the keyring.
func (k *KeyringSecrets) Get(conn, name string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.unavailable != nil {
		return "", k.unavailable
	}
	v, err := keyring.Get(keyringService, conn+"/"+name)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, keyring.ErrNotFound):
		return "", fmt.Errorf("the OS keyring has no %s/%s for service %s: %w", conn, name, keyringService, ErrNoSecret)
	}
	// The keyring's own error may say why (no D-Bus session, locked);
	// it never holds the secret, which was not read.
	k.unavailable = fmt.Errorf("%w: %v", errKeyringUnavailable, err)
	return "", k.unavailable
}

// Chain asks each source in turn and returns the first secret found. An
// unreachable keyring is skipped, not an error.
type Chain []Secrets

// Get returns the secret from the first source that has it.
func (c Chain) Get(conn, name string) (string, error) {
	var looked []string
	for _, s := range c {
		v, err := s.Get(conn, name)
		switch {
		case err == nil:
			return v, nil
		case errors.Is(err, ErrNoSecret):
			looked = append(looked, strings.TrimSuffix(err.Error(), ": "+ErrNoSecret.Error()))
		case errors.Is(err, errKeyringUnavailable):
			looked = append(looked, err.Error())
		default:
			return "", err
		}
	}
	return "", fmt.Errorf("connection %q: %w: %s (%s)", conn, ErrNoSecret, name, strings.Join(looked, "; "))
}

// NewSecrets returns the agent's secrets for the configuration file at
// configPath: the OS keyring when it is reachable, then the secrets file
// next to the configuration (see SecretsPath). It fails only when the
// secrets file exists and is unreadable, malformed or readable by others.
func NewSecrets(configPath string) (Secrets, error) {
	f, err := LoadSecretsFile(SecretsPath(configPath))
	if err != nil {
		return nil, err
	}
	return Chain{&KeyringSecrets{}, f}, nil
}
