package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

func writeSecrets(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "secrets.yaml")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	return p
}

const secretsBody = "nas:\n  password: file-pw\n  key_passphrase: 'p: w'\noffsite:\n  secret_access_key: s3cr3t\n"

func TestSecretsFile(t *testing.T) {
	p := writeSecrets(t, secretsBody, 0o600)
	s, err := LoadSecretsFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ conn, name, want string }{
		{"nas", "password", "file-pw"}, {"nas", "key_passphrase", "p: w"}, {"offsite", "secret_access_key", "s3cr3t"},
	} {
		if got, err := s.Get(tc.conn, tc.name); err != nil || got != tc.want {
			t.Errorf("Get(%s, %s) = %q, %v", tc.conn, tc.name, got, err)
		}
	}
	_, err = s.Get("nas", "token")
	if !errors.Is(err, ErrNoSecret) || !strings.Contains(err.Error(), p) {
		t.Errorf("missing secret: %v", err)
	}
}

func TestSecretsFileMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		p := writeSecrets(t, secretsBody, mode)
		_, err := LoadSecretsFile(p)
		if err == nil {
			t.Errorf("mode %04o accepted", mode)
			continue
		}
		if !strings.Contains(err.Error(), "chmod 600 "+p) || strings.Contains(err.Error(), "file-pw") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if _, err := LoadSecretsFile(writeSecrets(t, secretsBody, mode)); err != nil {
			t.Errorf("mode %04o refused: %v", mode, err)
		}
	}
}

func TestSecretsFileMissingOrMalformed(t *testing.T) {
	s, err := LoadSecretsFile(filepath.Join(t.TempDir(), "secrets.yaml"))
	if err != nil {
		t.Fatalf("a missing secrets file is an error: %v", err)
	}
	if _, err := s.Get("nas", "password"); !errors.Is(err, ErrNoSecret) {
		t.Errorf("Get from no file: %v", err)
	}
	if _, err := LoadSecretsFile(writeSecrets(t, "", 0o600)); err != nil {
		t.Errorf("an empty secrets file: %v", err)
	}
	for _, body := range []string{
		"nas: hunter2\n",                     // no secret names
		"nas:\n  password: [hunter2]\n",      // not a single value
		"- hunter2\n",                        // not a mapping
		"nas:\n  password: 'hunter2\n",       // not YAML
		"nas:\n  a: 1\nnas:\n  b: hunter2\n", // twice
	} {
		_, err := LoadSecretsFile(writeSecrets(t, body, 0o600))
		if err == nil {
			t.Errorf("accepted %q", body)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the secret: %v", err)
		}
		if !strings.Contains(err.Error(), "secrets.yaml") {
			t.Errorf("the error does not name the file: %v", err)
		}
	}
}

func TestKeyringChain(t *testing.T) {
	p := writeSecrets(t, secretsBody, 0o600)
	file, err := LoadSecretsFile(p)
	if err != nil {
		t.Fatal(err)
	}

	keyring.MockInit()
	if err := keyring.Set("dovetail", "nas/password", "keyring-pw"); err != nil {
		t.Fatal(err)
	}
	chain := Chain{&KeyringSecrets{}, file}
	if got, err := chain.Get("nas", "password"); err != nil || got != "keyring-pw" {
		t.Errorf("keyring first: %q, %v", got, err)
	}
	if got, err := chain.Get("offsite", "secret_access_key"); err != nil || got != "s3cr3t" {
		t.Errorf("falls back to the file: %q, %v", got, err)
	}
	_, err = chain.Get("cloud", "password")
	if !errors.Is(err, ErrNoSecret) {
		t.Fatalf("secret nowhere: %v", err)
	}
	for _, want := range []string{`connection "cloud"`, "password", "OS keyring has no cloud/password", p} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}

	// No Secret Service (a NAS without D-Bus): the file still answers,
	// and the keyring is not asked again.
	keyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	kr := &KeyringSecrets{}
	chain = Chain{kr, file}
	if got, err := chain.Get("nas", "password"); err != nil || got != "file-pw" {
		t.Errorf("keyring unavailable: %q, %v", got, err)
	}
	keyring.MockInit() // reachable again, but the chain remembers
	keyring.Set("dovetail", "nas/password", "keyring-pw")
	if got, _ := chain.Get("nas", "password"); got != "file-pw" {
		t.Errorf("an unavailable keyring was asked again: %q", got)
	}
	_, err = chain.Get("cloud", "password")
	if !errors.Is(err, ErrNoSecret) || !strings.Contains(err.Error(), "OS keyring unavailable") {
		t.Errorf("secret nowhere, keyring unavailable: %v", err)
	}
}

func TestNewSecrets(t *testing.T) {
	keyring.MockInit()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dovetail.yaml")
	if err := os.WriteFile(SecretsPath(cfg), []byte(secretsBody), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewSecrets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("nas", "password"); err != nil || got != "file-pw" {
		t.Errorf("Get = %q, %v", got, err)
	}
	os.Chmod(SecretsPath(cfg), 0o644)
	if _, err := NewSecrets(cfg); err == nil {
		t.Error("a world-readable secrets file is accepted")
	}
}
