package webdav_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/webdav"
)

func TestParseURL(t *testing.T) {
	t.Setenv(webdav.PasswordEnv, "pw-from-env")
	for _, tc := range []struct {
		url     string
		want    webdav.Config
		wantErr string // a part of the error message; "" for success
	}{
		{url: "webdav+https://alice@dav.example.com:8443/remote.php/dav/files/alice/Documents",
			want: webdav.Config{Scheme: "https", Host: "dav.example.com:8443", Root: "/remote.php/dav/files/alice/Documents", User: "alice", Password: "pw-from-env"}},
		{url: "webdav+https://alice@dav.example.com",
			want: webdav.Config{Scheme: "https", Host: "dav.example.com", Root: "/", User: "alice", Password: "pw-from-env"}},
		{url: "webdav+http://bob@127.0.0.1:8080/a%20b/c%25d/",
			want: webdav.Config{Scheme: "http", Host: "127.0.0.1:8080", Root: "/a b/c%d", User: "bob", Password: "pw-from-env"}},
		{url: "WEBDAV+HTTP://bob@localhost/x",
			want: webdav.Config{Scheme: "http", Host: "localhost", Root: "/x", User: "bob", Password: "pw-from-env"}},
		{url: "webdav+http://bob@[::1]:81/x",
			want: webdav.Config{Scheme: "http", Host: "[::1]:81", Root: "/x", User: "bob", Password: "pw-from-env"}},
		{url: "webdav+http://bob@nas.lan/share?insecure_http=true",
			want: webdav.Config{Scheme: "http", Host: "nas.lan", Root: "/share", User: "bob", Password: "pw-from-env", InsecureHTTP: true}},

		{url: "webdav+http://bob@nas.lan/share", wantErr: "refusing plain http to nas.lan"},
		{url: "webdav+http://bob@nas.lan/share?insecure_http=false", wantErr: "refusing plain http"},
		{url: "webdav+http://bob@10.0.0.2/share", wantErr: "refusing plain http"},
		{url: "webdav://bob@host/x", wantErr: `scheme "webdav"`},
		{url: "https://bob@host/x", wantErr: `scheme "https"`},
		{url: "webdav+https:///x", wantErr: "no host"},
		{url: "webdav+https://bob:secret@host/x", wantErr: "remove the password from the URL"},
		{url: "webdav+https://bob@host/x?insecure=1", wantErr: `unknown query parameter "insecure"`},
		{url: "webdav+https://bob@host/x?insecure_http=maybe", wantErr: `insecure_http="maybe"`},
		{url: "webdav+https://bob@host/a%2Fb", wantErr: "holds a slash"},
		{url: "webdav+https://bob@host/a/../b", wantErr: "has a .. element"},
		{url: "webdav+https://bob@host/a#frag", wantErr: "fragment"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := webdav.ParseURL(u)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseURL = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "pw-from-env") {
					t.Errorf("error %q shows a password", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseURL = %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestParseURLWithoutPassword(t *testing.T) {
	t.Setenv(webdav.PasswordEnv, "")
	cfg, err := webdav.ParseURL(&url.URL{Scheme: "webdav+https", Host: "h", Path: "/p", User: url.User("u")})
	if err != nil || cfg.Password != "" || cfg.User != "u" {
		t.Fatalf("ParseURL = %#v, %v", cfg, err)
	}
}

// TestPlainHTTPRefusedByNew checks that a Config built by hand is checked
// too, before anything is sent.
func TestPlainHTTPRefusedByNew(t *testing.T) {
	cfg := webdav.Config{Scheme: "http", Host: "192.0.2.1:80", Root: "/x", User: "u", Password: "pw"}
	_, err := webdav.New(t.Context(), cfg)
	if connectors.KindOf(err) != connectors.Invalid || !strings.Contains(err.Error(), "refusing plain http to 192.0.2.1") {
		t.Fatalf("New over plain http to a remote host: %v, want kind Invalid refusing plain http", err)
	}
	cfg.InsecureHTTP = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with InsecureHTTP: %v", err)
	}
}

func TestConfigHidesPassword(t *testing.T) {
	const pw = "correct-horse-battery"
	cfg := webdav.Config{Scheme: "https", Host: "h:1", Root: "/r", User: "u", Password: pw}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("connect", "config", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("connect", "config", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), logged.String()} {
		if strings.Contains(s, pw) {
			t.Errorf("the password shows in %q", s)
		}
		if !strings.Contains(s, "webdav+https://u@h:1/r") {
			t.Errorf("%q does not name the server", s)
		}
	}
}
