// Package webdavtest starts WebDAV servers for tests: Apache httpd with
// mod_dav (the real server every WebDAV test should also run against) and
// golang.org/x/net/webdav in-process. Both serve a temporary folder, need
// basic authentication with a random password, and are stopped when the
// test ends.
package webdavtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	xwebdav "golang.org/x/net/webdav"

	"github.com/dovetail-sync/dovetail/connectors/webdav"
	"github.com/dovetail-sync/dovetail/internal/testenv"
)

// User is the user name the servers accept.
const User = "dovetail"

// Server is a running WebDAV server serving Dir().
type Server struct {
	t        testing.TB
	addr     string // "127.0.0.1:port"
	dir      string
	password string
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Dir is the local folder the server's top serves: a file written through
// the connector at URL(sub) and path p is Dir()/sub/p, and the reverse.
func (s *Server) Dir() string { return s.dir }

// Password is the password of User.
func (s *Server) Password() string { return s.password }

// Env holds the environment variable ParseURL reads the password from,
// as "KEY=value".
func (s *Server) Env() []string { return []string{webdav.PasswordEnv + "=" + s.password} }

// URL returns "webdav+http://dovetail@127.0.0.1:port/sub", a root at the
// folder sub (slash-separated, created if missing; "" is the top).
func (s *Server) URL(sub string) string {
	sub = strings.Trim(sub, "/")
	if sub != "" {
		if err := os.MkdirAll(filepath.Join(s.dir, filepath.FromSlash(sub)), 0o777); err != nil {
			s.t.Fatalf("webdavtest: creating %s: %v", sub, err)
		}
	}
	u := url.URL{Scheme: "webdav+http", User: url.User(User), Host: s.addr, Path: "/" + sub}
	return u.String()
}

// Config returns the configuration URL(sub) and Env() stand for, without
// going through the environment.
func (s *Server) Config(sub string) webdav.Config {
	return s.ConfigAt(s.addr, sub)
}

// ConfigAt is Config for a server reached at addr, such as a proxy in
// front of this one.
func (s *Server) ConfigAt(addr, sub string) webdav.Config {
	u, err := url.Parse(s.URL(sub))
	if err != nil {
		s.t.Fatal(err)
	}
	return webdav.Config{Scheme: "http", Host: addr, Root: u.Path, User: User, Password: s.password}
}

func newPassword() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Start runs Apache httpd with mod_dav on 127.0.0.1 for the rest of the
// test, serving a new temporary folder. Where Apache is not installed,
// the test is skipped, or fails under CI=true.
//
// As root, Apache would switch to an unprivileged user and could then not
// write the test's files; so it runs in a new user namespace without
// mappings, where it is not root and does not switch, while the files it
// creates still belong to the test's user.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := testenv.Tool(t, "apache2", "Debian package apache2", "/usr/sbin")
	htpasswd := testenv.Tool(t, "htpasswd", "Debian package apache2-utils", "/usr/bin")
	const modules = "/usr/lib/apache2/modules"
	if _, err := os.Stat(filepath.Join(modules, "mod_dav_fs.so")); err != nil {
		testenv.Need(t, "Apache modules not found in %s (Debian package apache2): %v", modules, err)
	}
	base := t.TempDir()
	run := filepath.Join(base, "run")
	s := &Server{t: t, dir: filepath.Join(base, "root"), password: newPassword()}
	for _, d := range []string{run, s.dir} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	users := filepath.Join(run, "htpasswd")
	if out, err := exec.Command(htpasswd, "-cbB", users, User, s.password).CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v\n%s", err, out)
	}
	port := testenv.FreePort(t)
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	conf := filepath.Join(run, "httpd.conf")
	if err := os.WriteFile(conf, []byte(apacheConf(run, s.dir, s.addr, modules, users)), 0o666); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-f", conf, "-X")
	cmd.Dir = run
	out, err := os.Create(filepath.Join(run, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = newUserNamespace()
	}
	if err := cmd.Start(); err != nil {
		if cmd.SysProcAttr != nil {
			testenv.Need(t, "starting %s in a user namespace (needed as root): %v", bin, err)
		}
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	logs := func() string {
		a, _ := os.ReadFile(filepath.Join(run, "stderr.log"))
		b, _ := os.ReadFile(filepath.Join(run, "error.log"))
		return string(a) + string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("apache2 exited at start: %v\n%s", err, logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("apache2 did not listen on %s within 20s\n%s", s.addr, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func apacheConf(run, root, addr, modules, users string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %q\nDefaultRuntimeDir %q\nPidFile %q\nErrorLog %q\nLogLevel warn\n",
		run, run, filepath.Join(run, "httpd.pid"), filepath.Join(run, "error.log"))
	fmt.Fprintf(&b, "Listen %s\nServerName %s\n", addr, addr)
	for _, m := range []string{"mpm_event", "authn_core", "authz_core", "auth_basic", "authn_file", "authz_user", "dav", "dav_fs"} {
		fmt.Fprintf(&b, "LoadModule %s_module %q\n", m, filepath.Join(modules, "mod_"+m+".so"))
	}
	fmt.Fprintf(&b, "DAVLockDB %q\nDocumentRoot %q\n", filepath.Join(run, "davlock"), root)
	fmt.Fprintf(&b, "<Directory %q>\n  Dav On\n  AuthType Basic\n  AuthName webdavtest\n  AuthUserFile %q\n  Require valid-user\n</Directory>\n", root, users)
	return b.String()
}

// StartGo serves a new temporary folder with golang.org/x/net/webdav on
// 127.0.0.1, behind basic authentication, for the rest of the test.
func StartGo(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), password: newPassword()}
	dav := &xwebdav.Handler{FileSystem: xwebdav.Dir(s.dir), LockSystem: xwebdav.NewMemLS()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != User || pw != s.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="webdavtest"`)
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		dav.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.addr = srv.Listener.Addr().String()
	return s
}
