package sftp_test

import (
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors/sftp"
)

func TestParseURL(t *testing.T) {
	env := map[string]string{
		sftp.EnvPassword:      "s3cret-pw",
		sftp.EnvKeyPassphrase: "s3cret-phrase",
		sftp.EnvAgent:         "/run/agent.sock",
	}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		url  string
		want sftp.Config // secrets from env are checked separately
	}{
		{"sftp://alice@nas", sftp.Config{User: "alice", Host: "nas"}},
		{"sftp://alice@nas/", sftp.Config{User: "alice", Host: "nas"}},
		{"sftp://alice@nas:2222/Documents", sftp.Config{User: "alice", Host: "nas", Port: 2222, Path: "Documents"}},
		{"sftp://alice@nas/~/Documents/work/", sftp.Config{User: "alice", Host: "nas", Path: "Documents/work"}},
		{"sftp://alice@nas/~", sftp.Config{User: "alice", Host: "nas"}},
		{"sftp://alice@nas//srv/data", sftp.Config{User: "alice", Host: "nas", Path: "/srv/data"}},
		{"sftp://alice@nas///", sftp.Config{User: "alice", Host: "nas", Path: "/"}},
		{"sftp://nas/My%20Files", sftp.Config{Host: "nas", Path: "My Files"}},
		{"sftp://bob@[::1]:22/x", sftp.Config{User: "bob", Host: "::1", Port: 22, Path: "x"}},
		{"sftp://alice@nas/d?key=/k/id_ed25519&known_hosts=/k/known", sftp.Config{User: "alice", Host: "nas", Path: "d", KeyFiles: []string{"/k/id_ed25519"}, KnownHosts: "/k/known"}},
		{"sftp://alice@nas/d?key=/k/a&key=/k/b", sftp.Config{User: "alice", Host: "nas", Path: "d", KeyFiles: []string{"/k/a", "/k/b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sftp.ParseURLEnv(u, getenv)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if got.Password != "s3cret-pw" || got.KeyPassphrase != "s3cret-phrase" || got.AgentSocket != "/run/agent.sock" {
				t.Errorf("secrets from the environment not taken: %+v", got)
			}
			got.Password, got.KeyPassphrase, got.AgentSocket = "", "", ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseURL = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, wantMsg string }{
		{"sftp:///path", "no host"},
		{"sftp://alice@nas:99999/x", "port"},
		{"sftp://alice@nas/x?keys=/a", `unknown URL parameter "keys"`},
		{"sftp://alice@nas/x?key=", "key= is empty"},
		{"sftp://alice@nas/x?known_hosts=a&known_hosts=b", "known_hosts= must name one file"},
		{"sftp://alice@nas/a/../../etc", ".. element"},
		{"sftp://alice@nas/x#frag", "fragment"},
		{"sftp:alice@nas/x", "sftp://"},
		{"s3://bucket/x", "scheme"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sftp.ParseURLEnv(u, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("ParseURL(%q) = %v, want an error mentioning %q", tc.url, err, tc.wantMsg)
		}
	}
}

func TestPasswordInURLRefused(t *testing.T) {
	u, _ := url.Parse("sftp://alice:hunter2-in-url@nas/x")
	_, err := sftp.ParseURLEnv(u, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), sftp.EnvPassword) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("ParseURL of a URL with a password = %v, want an error naming %s without the password", err, sftp.EnvPassword)
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	cfg := sftp.Config{User: "alice", Host: "nas", Path: "docs", Password: "hunter2-pw", KeyPassphrase: "hunter2-phrase"}
	var log strings.Builder
	slog.New(slog.NewTextHandler(&log, nil)).Info("connecting", "cfg", cfg)
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v", cfg), log.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("a secret shows in %q", s)
		}
	}
	if got := cfg.String(); got != "sftp://alice@nas:22/docs" {
		t.Errorf("String() = %q", got)
	}
	if abs := (sftp.Config{Host: "nas", Path: "/srv/data"}).String(); abs != "sftp://nas:22//srv/data" {
		t.Errorf("String() of an absolute root = %q", abs)
	}
}
