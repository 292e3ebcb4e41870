package webdav_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/webdav"
	"github.com/dovetail-sync/dovetail/connectors/webdav/webdavtest"
)

// servers are the two real servers behaviour tests run against.
var servers = []struct {
	name  string
	start func(testing.TB) *webdavtest.Server
}{
	{"Apache", webdavtest.Start},
	{"XNetDAV", webdavtest.StartGo},
}

func put(t *testing.T, c connectors.Connector, p, data string) connectors.Entry {
	t.Helper()
	e, err := c.Put(t.Context(), p, strings.NewReader(data), connectors.PutOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatalf("Put(%q): %v", p, err)
	}
	return e
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFeaturesPerServer checks what New finds out about each server:
// Apache writes atomically and enforces If headers, x/net/webdav writes
// in place and ignores them.
func TestFeaturesPerServer(t *testing.T) {
	for _, tc := range []struct {
		name              string
		start             func(testing.TB) *webdavtest.Server
		atomic, condition bool
	}{
		{"Apache", webdavtest.Start, true, true},
		{"XNetDAV", webdavtest.StartGo, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.start(t)
			c := connect(t, srv.Config("f"))
			f := c.Features()
			if f.ConditionalWrite != tc.condition || webdav.AtomicPut(c) != tc.atomic {
				t.Errorf("ConditionalWrite = %v, atomic PUT = %v; want %v, %v", f.ConditionalWrite, webdav.AtomicPut(c), tc.condition, tc.atomic)
			}
			if f.SetModTime || f.Trash || f.Hash != connectors.HashNone || !f.ServerSideMove || f.Rules != "webdav" || f.Name != "webdav" {
				t.Errorf("Features() = %+v", f)
			}
			// The probe cleans up after itself (Apache removes its own
			// temporary file of the interrupted upload a moment later).
			deadline := time.Now().Add(10 * time.Second)
			for ents, _ := os.ReadDir(filepath.Join(srv.Dir(), "f")); len(ents) != 0; ents, _ = os.ReadDir(filepath.Join(srv.Dir(), "f")) {
				if time.Now().After(deadline) {
					t.Fatalf("New left %v in the root", ents)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestURLAndDir checks the test server helper the engine's end-to-end
// tests rely on: its URL and Env work with ParseURL and New, and files
// map one to one onto Dir().
func TestURLAndDir(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t)
			for _, kv := range srv.Env() {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			u, err := url.Parse(srv.URL("sync/root"))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := webdav.ParseURL(u)
			if err != nil {
				t.Fatalf("ParseURL(%s): %v", u, err)
			}
			c := connect(t, cfg)
			const odd = "odd name #1 %41 ?;&=+ é.txt"
			put(t, c, "a/b/"+odd, "through the connector")
			if got := readFile(t, filepath.Join(srv.Dir(), "sync", "root", "a", "b", odd)); got != "through the connector" {
				t.Errorf("file on disk holds %q", got)
			}
			if err := os.WriteFile(filepath.Join(srv.Dir(), "sync", "root", "a", "on disk %2F.txt"), []byte("plain file"), 0o666); err != nil {
				t.Fatal(err)
			}
			e, err := c.Stat(t.Context(), "a/on disk %2F.txt")
			if err != nil || e.Size != 10 || e.Kind != connectors.File {
				t.Errorf("Stat of a file written on disk: %+v, %v", e, err)
			}
			var listed []string
			if err := c.Walk(t.Context(), "", func(e connectors.Entry) error {
				listed = append(listed, e.Path)
				return nil
			}, func(p string, err error) { t.Errorf("problem at %q: %v", p, err) }); err != nil {
				t.Fatal(err)
			}
			slices.Sort(listed)
			want := []string{"a", "a/b", "a/b/" + odd, "a/on disk %2F.txt"}
			if !slices.Equal(listed, want) {
				t.Errorf("Walk listed %q, want %q", listed, want)
			}
		})
	}
}

// TestAuth checks that the servers insist on a login and that a wrong
// or missing password is a Permission error that never shows it.
func TestAuth(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t)
			resp, err := http.Get("http://" + srv.Addr() + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("GET without a login: %s, want 401", resp.Status)
			}
			for _, tc := range []struct {
				password, hint string
			}{
				{"wrong-password-1234", "check the user name and the password in " + webdav.PasswordEnv},
				{"", webdav.PasswordEnv + " is empty"},
			} {
				cfg := srv.Config("")
				cfg.Password = tc.password
				_, err := webdav.New(t.Context(), cfg)
				if connectors.KindOf(err) != connectors.Permission {
					t.Fatalf("New with password %q: %v, want kind Permission", tc.password, err)
				}
				msg := err.Error()
				if !strings.Contains(msg, tc.hint) {
					t.Errorf("error %q does not say %q", msg, tc.hint)
				}
				if tc.password != "" && strings.Contains(msg, tc.password) || strings.Contains(msg, srv.Password()) {
					t.Errorf("error %q shows a password", msg)
				}
			}
		})
	}
}

// TestIfRevRace changes the file on the server between Put's check and
// its write: Apache enforces the If header, so the other writer's content
// survives and Put reports Precondition.
func TestIfRevRace(t *testing.T) {
	srv := webdavtest.Start(t)
	c := connect(t, srv.Config("race"))
	old := put(t, c, "doc.txt", "version 1")
	onDisk := filepath.Join(srv.Dir(), "race", "doc.txt")
	restore := webdav.SetBeforeCommit(func(string) {
		if err := os.WriteFile(onDisk, []byte("written by someone else"), 0o666); err != nil {
			t.Error(err)
		}
	})
	_, err := c.Put(t.Context(), "doc.txt", strings.NewReader("version 2"), connectors.PutOptions{Size: 9, IfRev: old.Rev})
	restore()
	if connectors.KindOf(err) != connectors.Precondition {
		t.Fatalf("Put with a rev that changed meanwhile: %v, want kind Precondition", err)
	}
	if got := readFile(t, onDisk); got != "written by someone else" {
		t.Errorf("file holds %q after the refused Put", got)
	}
	cur, err := c.Stat(t.Context(), "doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(t.Context(), "doc.txt", strings.NewReader("version 3"), connectors.PutOptions{Size: 9, IfRev: cur.Rev}); err != nil {
		t.Fatalf("Put with the current rev: %v", err)
	}
	if got := readFile(t, onDisk); got != "version 3" {
		t.Errorf("file holds %q", got)
	}
}

// propfindETag asks the server for the raw getetag of p.
func propfindETag(t *testing.T, srv *webdavtest.Server, p string) string {
	t.Helper()
	req, err := http.NewRequest("PROPFIND", "http://"+srv.Addr()+"/"+p, strings.NewReader(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Depth", "0")
	req.SetBasicAuth(webdavtest.User, srv.Password())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	_, rest, ok := strings.Cut(string(b), "getetag>")
	if !ok {
		t.Fatalf("no getetag in %s", b)
	}
	etag, _, _ := strings.Cut(rest, "<")
	return etag
}

// TestWeakETag: Apache gives a weak ETag within a second of a write and
// the strong one afterwards. Rev must be the same for both, and a weak
// tag must still work as a condition.
func TestWeakETag(t *testing.T) {
	srv := webdavtest.Start(t)
	c := connect(t, srv.Config("weak"))
	e := put(t, c, "f", "fresh")
	raw := propfindETag(t, srv, "weak/f")
	if !strings.HasPrefix(raw, "W/") {
		t.Skipf("Apache gave the strong ETag %s right after a write; nothing to test on this machine", raw)
	}
	if strings.HasPrefix(e.Rev, "W/") || "W/"+e.Rev != raw {
		t.Errorf("Rev = %q for the ETag %s", e.Rev, raw)
	}
	// Conditions with the rev work while the ETag is weak.
	e2, err := c.Put(t.Context(), "f", strings.NewReader("second"), connectors.PutOptions{Size: 6, IfRev: e.Rev})
	if err != nil {
		t.Fatalf("Put with the rev of a weak ETag: %v", err)
	}
	if !strings.HasPrefix(propfindETag(t, srv, "weak/f"), "W/") {
		t.Log("the ETag turned strong before the delete; the weak case is covered by the Put above")
	}
	put(t, c, "g", "to delete")
	g, _ := c.Stat(t.Context(), "g")
	if err := c.Delete(t.Context(), "g", g.Rev); err != nil {
		t.Fatalf("Delete with the rev of a weak ETag: %v", err)
	}
	// After a second the ETag is strong and Rev is unchanged.
	time.Sleep(1100 * time.Millisecond)
	if raw := propfindETag(t, srv, "weak/f"); strings.HasPrefix(raw, "W/") {
		t.Fatalf("ETag still weak after a second: %s", raw)
	}
	s, err := c.Stat(t.Context(), "f")
	if err != nil || s.Rev != e2.Rev {
		t.Errorf("Stat gives rev %q (%v) with a strong ETag, Put returned %q", s.Rev, err, e2.Rev)
	}
}

// TestRecover removes the temporary files an interrupted Put left, and
// only those; Walk never lists them.
func TestRecover(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t)
			c := connect(t, srv.Config("rec"))
			put(t, c, "d/f.txt", "real")
			dir := filepath.Join(srv.Dir(), "rec", "d")
			mine, other := webdav.TempName("f.txt"), webdav.TempName("g.txt")
			for _, n := range []string{mine, other} {
				if err := os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			err := c.Walk(t.Context(), "", func(e connectors.Entry) error {
				if strings.Contains(e.Path, ".dovetail.tmp.") {
					t.Errorf("Walk listed %q", e.Path)
				}
				return nil
			}, func(string, error) {})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // idempotent
				if err := c.Recover(t.Context(), "d/f.txt"); err != nil {
					t.Fatalf("Recover: %v", err)
				}
			}
			if err := c.Recover(t.Context(), "missing/f.txt"); err != nil {
				t.Errorf("Recover in a missing folder: %v", err)
			}
			var names []string
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if want := []string{other, "f.txt"}; !slices.Equal(names, want) {
				t.Errorf("after Recover the folder holds %q, want %q", names, want)
			}
		})
	}
}

// TestMissingRoot: New accepts a root that does not exist yet; Mkdir("")
// creates it and the folders above it.
func TestMissingRoot(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t)
			cfg := srv.Config("")
			cfg.Root = "/not/yet/there"
			c := connect(t, cfg)
			if _, err := c.Stat(t.Context(), ""); !connectors.IsNotFound(err) {
				t.Fatalf("Stat of a missing root: %v, want NotFound", err)
			}
			if e, err := c.Mkdir(t.Context(), ""); err != nil || !e.IsDir() {
				t.Fatalf("Mkdir(root) = %+v, %v", e, err)
			}
			put(t, c, "x", "y")
			if got := readFile(t, filepath.Join(srv.Dir(), "not", "yet", "there", "x")); got != "y" {
				t.Errorf("file holds %q", got)
			}
		})
	}
}

// fakeServer is a WebDAV server that answers PROPFIND from a table and
// refuses every write, to feed the connector hostile listings and error
// answers a real server would not give.
type fakeServer struct {
	listings  map[string]string // request path -> multistatus body
	redirects map[string]string // request path -> where it redirects
	status    int               // answer to PROPFIND of /dav/root/target
	header    http.Header
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "PROPFIND" {
		http.Error(w, "read-only", http.StatusForbidden)
		return
	}
	if r.URL.EscapedPath() == "/dav/root/target" {
		for k, v := range f.header {
			w.Header()[k] = v
		}
		w.WriteHeader(f.status)
		return
	}
	if to, ok := f.redirects[r.URL.EscapedPath()]; ok {
		http.Redirect(w, r, to, http.StatusMovedPermanently)
		return
	}
	body, ok := f.listings[r.URL.EscapedPath()]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	io.WriteString(w, body)
}

func multistatus(entries ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:">`)
	for _, e := range entries {
		href, kind, _ := strings.Cut(e, " ")
		rt, size := "", "<D:getcontentlength>4</D:getcontentlength>"
		if kind == "dir" {
			rt, size = "<D:collection/>", ""
		}
		fmt.Fprintf(&b, `<D:response><D:href>%s</D:href><D:propstat><D:prop><D:resourcetype>%s</D:resourcetype>%s<D:getetag>"e1"</D:getetag><D:getlastmodified>Mon, 02 Jan 2006 15:04:05 GMT</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>`, href, rt, size)
	}
	b.WriteString(`</D:multistatus>`)
	return b.String()
}

func startFake(t *testing.T, f *fakeServer) *webdav.Conn {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return connect(t, webdav.Config{Scheme: "http", Host: u.Host, Root: "/dav/root", User: "u", Password: "p"})
}

// TestHostileListing feeds Walk hrefs that try to leave the root or the
// folder listed, or carry names no file system should see.
func TestHostileListing(t *testing.T) {
	f := &fakeServer{listings: map[string]string{
		"/dav/root/": multistatus(
			"/dav/root/ dir",
			"/dav/root/ok%20name.txt file",
			"http://elsewhere.example/dav/root/absolute.txt file",
			"/dav/root/sub/ dir",
			"/dav/root/..%2F..%2Fetc%2Fpasswd file",
			"/dav/root/../../etc/passwd file",
			"/dav/other/x file",
			"/dav/root/a/b/deep file",
			"/dav/root/nul%00name file",
			"/dav/root/%2e%2e file",
			"/dav/root/bad%ZZescape file",
			"/dav/root/bad%FFutf8 file",
			"/dav/root/.dovetail.tmp.x.0123456789ab file",
		),
		"/dav/root/sub": multistatus(
			"/dav/root/sub/ dir",
			"/dav/root/sub/fine file",
			"/dav/root/sub/../../escape file",
			"/dav/root/ dir",
		),
	}}
	c := startFake(t, f)
	var listed, problems []string
	err := c.Walk(t.Context(), "", func(e connectors.Entry) error {
		if err := connectors.ValidPath(e.Path); err != nil {
			t.Errorf("Walk reported the invalid path %q: %v", e.Path, err)
		}
		listed = append(listed, e.Path)
		return nil
	}, func(p string, err error) {
		if connectors.ValidPath(p) != nil && !strings.HasPrefix(p, "bad") {
			t.Errorf("problem reported at the invalid path %q", p)
		}
		problems = append(problems, p+": "+err.Error())
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	slices.Sort(listed)
	if want := []string{"absolute.txt", "ok name.txt", "sub", "sub/fine"}; !slices.Equal(listed, want) {
		t.Errorf("Walk listed %q, want %q", listed, want)
	}
	if len(problems) != 10 {
		t.Errorf("Walk reported %d problems, want 10 (one per hostile href):\n%s", len(problems), strings.Join(problems, "\n"))
	}
}

// TestStatusKinds maps the server's answers to error kinds.
func TestStatusKinds(t *testing.T) {
	f := &fakeServer{listings: map[string]string{"/dav/root/": multistatus("/dav/root/ dir")}}
	c := startFake(t, f)
	for _, tc := range []struct {
		status     int
		retryAfter string
		kind       connectors.ErrorKind
		wait       time.Duration
	}{
		{http.StatusNotFound, "", connectors.NotFound, 0},
		{http.StatusGone, "", connectors.NotFound, 0},
		{http.StatusUnauthorized, "", connectors.Permission, 0},
		{http.StatusForbidden, "", connectors.Permission, 0},
		{http.StatusPreconditionFailed, "", connectors.Precondition, 0},
		{http.StatusLocked, "", connectors.Transient, 0},
		{http.StatusTooManyRequests, "7", connectors.RateLimited, 7 * time.Second},
		{http.StatusTooManyRequests, "", connectors.RateLimited, 0},
		{http.StatusServiceUnavailable, "3", connectors.RateLimited, 3 * time.Second},
		{http.StatusServiceUnavailable, "", connectors.Transient, 0},
		{http.StatusInternalServerError, "", connectors.Transient, 0},
		{http.StatusBadGateway, "", connectors.Transient, 0},
		{http.StatusInsufficientStorage, "", connectors.NoSpace, 0},
		{http.StatusMovedPermanently, "", connectors.Unknown, 0},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f.status, f.header = tc.status, http.Header{}
			if tc.retryAfter != "" {
				f.header.Set("Retry-After", tc.retryAfter)
			}
			_, err := c.Stat(t.Context(), "target")
			var ce *connectors.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Stat: %v is not a *connectors.Error", err)
			}
			if ce.Kind != tc.kind || ce.RetryAfter != tc.wait || ce.Op != "stat" || ce.Path != "target" {
				t.Errorf("Stat: kind %v, retry after %v, op %q, path %q (%v); want %v, %v", ce.Kind, ce.RetryAfter, ce.Op, ce.Path, err, tc.kind, tc.wait)
			}
		})
	}
	// An HTTP date works for Retry-After too.
	f.status, f.header = http.StatusTooManyRequests, http.Header{"Retry-After": {time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)}}
	var ce *connectors.Error
	if _, err := c.Stat(t.Context(), "target"); !errors.As(err, &ce) || ce.RetryAfter < 50*time.Second || ce.RetryAfter > time.Minute {
		t.Errorf("Retry-After as a date: %v", err)
	}
}

// TestRedirects: a redirect to the folder's URL with a trailing slash is
// followed; any other is an error naming the new address.
func TestRedirects(t *testing.T) {
	f := &fakeServer{
		listings: map[string]string{
			"/dav/root/":        multistatus("/dav/root/ dir"),
			"/dav/root/folder/": multistatus("/dav/root/folder/ dir", "/dav/root/folder/file file"),
		},
		redirects: map[string]string{
			"/dav/root/folder": "/dav/root/folder/",
			"/dav/root/moved":  "https://elsewhere.example/dav/root/moved",
		},
	}
	c := startFake(t, f)
	if e, err := c.Stat(t.Context(), "folder"); err != nil || !e.IsDir() || e.Path != "folder" {
		t.Errorf("Stat through a trailing-slash redirect: %+v, %v", e, err)
	}
	_, err := c.Stat(t.Context(), "moved")
	if err == nil || !strings.Contains(err.Error(), "https://elsewhere.example/dav/root/moved") {
		t.Errorf("Stat of a redirected path: %v, want an error naming the new address", err)
	}
}

// TestRangedOpenIgnored: a server that ignores Range still gives the
// right bytes.
func TestRangedOpenIgnored(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "PROPFIND":
			w.WriteHeader(http.StatusMultiStatus)
			io.WriteString(w, multistatus("/ dir"))
		case http.MethodGet:
			w.Write(data) // no range support
		default:
			http.Error(w, "no", http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := connect(t, webdav.Config{Scheme: "http", Host: u.Host})
	r, err := c.Open(t.Context(), "f", 25, 10)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data[25:35]) {
		t.Errorf("Open(25, 10) = %q, %v; want %q", got, err, data[25:35])
	}
}

// TestUntrustedCertificate: a server whose certificate does not verify
// is a Permission error (retrying cannot help), not a Transient one.
func TestUntrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request got through an untrusted TLS connection")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	_, err := webdav.New(t.Context(), webdav.Config{Scheme: "https", Host: u.Host, User: "u", Password: "secret-pw"})
	if connectors.KindOf(err) != connectors.Permission || !strings.Contains(err.Error(), "certificate is not trusted") || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("New against a self-signed server: %v; want kind Permission naming the certificate", err)
	}
}
