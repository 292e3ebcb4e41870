package sftp_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/sftp"
	"github.com/dovetail-sync/dovetail/connectors/sftp/sftptest"
)

// wantErr fails unless err is a *connectors.Error of kind k whose message
// holds every one of parts.
func wantErr(t *testing.T, what string, err error, k connectors.ErrorKind, parts ...string) {
	t.Helper()
	var ce *connectors.Error
	if err == nil || !errors.As(err, &ce) {
		t.Fatalf("%s: got %v (%T), want a *connectors.Error of kind %v", what, err, err, k)
	}
	if ce.Kind != k {
		t.Errorf("%s: kind %v, want %v (%v)", what, ce.Kind, k, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: message does not mention %q:\n%v", what, p, err)
		}
	}
}

func newEd25519(t *testing.T) (ssh.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp, priv
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func put(t *testing.T, c connectors.Connector, p, data string, mtime time.Time) connectors.Entry {
	t.Helper()
	e, err := c.Put(t.Context(), p, strings.NewReader(data), connectors.PutOptions{ModTime: mtime, Size: int64(len(data))})
	if err != nil {
		t.Fatalf("Put(%q): %v", p, err)
	}
	return e
}

func TestHostKeys(t *testing.T) {
	srv := sftptest.Start(t)
	fp := ssh.FingerprintSHA256(srv.HostKey())
	port := strconv.Itoa(srv.Config("").Port)
	other, _ := newEd25519(t)
	for _, tc := range []struct {
		name       string
		knownHosts func(file string) // writes the known_hosts file
		parts      []string
	}{
		{"no file", func(string) {}, []string{"not known", fp, "ssh-keyscan -t ed25519 -p " + port + " 127.0.0.1 >> ", "[127.0.0.1]:" + port + " ssh-ed25519 "}},
		{"empty file", func(f string) { writeFile(t, f, nil) }, []string{"not known", fp, "ssh-keyscan"}},
		{"key of another host", func(f string) {
			writeFile(t, f, []byte(knownhosts.Line([]string{"[127.0.0.1]:1"}, srv.HostKey())+"\n"))
		}, []string{"not known", fp}},
		{"changed key", func(f string) {
			writeFile(t, f, []byte(knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, other)+"\n"))
		}, []string{"HAS CHANGED", fp, ssh.FingerprintSHA256(other), "ssh-keygen -R"}},
		{"revoked key", func(f string) {
			writeFile(t, f, []byte("@revoked "+knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, srv.HostKey())+"\n"))
		}, []string{"revoked", fp}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.Config("")
			cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			tc.knownHosts(cfg.KnownHosts)
			c, err := sftp.New(t.Context(), cfg)
			if err == nil {
				c.Close()
			}
			wantErr(t, "New", err, connectors.Permission, tc.parts...)
		})
	}
	// And the known_hosts line the message gives does trust the server.
	cfg := srv.Config("")
	_, err := sftp.New(t.Context(), withKnownHosts(t, cfg, ""))
	line := err.Error()[strings.Index(err.Error(), "[127.0.0.1]"):]
	line = strings.TrimSuffix(line, ")")
	connect(t, withKnownHosts(t, cfg, line+"\n"))
}

func withKnownHosts(t *testing.T, cfg sftp.Config, content string) sftp.Config {
	cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, cfg.KnownHosts, []byte(content))
	return cfg
}

func TestCredentials(t *testing.T) {
	srv := sftptest.Start(t)
	_, priv := newEd25519(t)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := filepath.Join(t.TempDir(), "id_ed25519")
	writeFile(t, wrongKey, pem.EncodeToMemory(block))

	for _, tc := range []struct {
		name  string
		edit  func(*sftp.Config)
		parts []string
	}{
		{"key the server does not know", func(c *sftp.Config) { c.KeyFiles = []string{wrongKey} },
			[]string{"refused every credential", wrongKey}},
		{"missing key file", func(c *sftp.Config) { c.KeyFiles = []string{wrongKey + ".missing"} },
			[]string{"private key", "no such file"}},
		{"no passphrase", func(c *sftp.Config) { c.KeyPassphrase = "" },
			[]string{"is encrypted", sftp.EnvKeyPassphrase}},
		{"wrong passphrase", func(c *sftp.Config) { c.KeyPassphrase = "wrong" },
			[]string{"passphrase", "is wrong"}},
		{"password where only keys are allowed", func(c *sftp.Config) { c.KeyFiles = []string{wrongKey}; c.Password = "pw-secret" },
			[]string{"refused every credential", "password from " + sftp.EnvPassword}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.Config("")
			tc.edit(&cfg)
			c, err := sftp.New(t.Context(), cfg)
			if err == nil {
				c.Close()
			}
			wantErr(t, "New", err, connectors.Permission, tc.parts...)
			if strings.Contains(err.Error(), "pw-secret") || strings.Contains(err.Error(), sftptest.Passphrase) {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

// TestURLPaths checks the URL forms against OpenSSH: a path relative to
// the login folder and an absolute one, through ParseURL with the
// passphrase from the environment.
func TestURLPaths(t *testing.T) {
	srv := sftptest.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv(sftp.EnvAgent, "")
	abs := t.TempDir()
	for _, tc := range []struct{ url, disk string }{
		{srv.URL("rel/docs"), filepath.Join(srv.Dir(), "rel/docs")},
		{strings.Replace(srv.URL("x"), "/x?", "/~/tilde?", 1), filepath.Join(srv.Dir(), "tilde")},
		{strings.Replace(srv.URL("x"), "/x?", "/"+abs+"/abs?", 1), filepath.Join(abs, "abs")},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := sftp.ParseURL(u)
		if err != nil {
			t.Fatalf("ParseURL(%s): %v", tc.url, err)
		}
		c := open(t, cfg)
		if _, err := c.Stat(t.Context(), ""); !connectors.IsNotFound(err) {
			t.Errorf("%s: Stat of a missing root = %v, want NotFound", tc.url, err)
		}
		// A missing root is not made by a write (it may be a volume that
		// is not mounted), only by Mkdir("").
		_, err = c.Put(t.Context(), "a/b.txt", strings.NewReader("x"), connectors.PutOptions{Size: 1})
		wantErr(t, "Put into a missing root", err, connectors.NotFound, "root folder")
		if _, err := c.Mkdir(t.Context(), ""); err != nil {
			t.Fatalf("%s: Mkdir(root): %v", tc.url, err)
		}
		put(t, c, "a/b.txt", "through "+tc.url, time.Time{})
		if got := readFile(t, filepath.Join(tc.disk, "a/b.txt")); got != "through "+tc.url {
			t.Errorf("%s: file on disk holds %q", tc.url, got)
		}
		if c.Root() != filepath.ToSlash(tc.disk) {
			t.Errorf("%s: Root() = %q, want %q", tc.url, c.Root(), tc.disk)
		}
	}
}

func TestModTime(t *testing.T) {
	srv := sftptest.Start(t)
	c := connect(t, srv.Config(""))
	mtime := time.Date(2019, 7, 8, 9, 10, 11, 987654321, time.Local)
	e := put(t, c, "dir/f.txt", "timed", mtime)
	want := mtime.Truncate(time.Second)
	if !e.ModTime.Equal(want) {
		t.Errorf("Put returned ModTime %v, want %v", e.ModTime, want)
	}
	fi, err := os.Stat(filepath.Join(srv.Dir(), "dir/f.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(want) {
		t.Errorf("file on disk has ModTime %v, want %v", fi.ModTime(), want)
	}
	// A time set on the server's disk is what Stat and Walk report.
	other := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(srv.Dir(), "dir/f.txt"), other, other); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Stat(t.Context(), "dir/f.txt"); err != nil || !s.ModTime.Equal(other) {
		t.Errorf("Stat = %v, %v; want ModTime %v", s.ModTime, err, other)
	}
	if s, _ := c.Stat(t.Context(), "dir/f.txt"); s.Rev == e.Rev {
		t.Errorf("Rev %q did not change when the modification time did", s.Rev)
	}
	if f := c.Features(); !f.SetModTime || f.ModTimePrecision != time.Second {
		t.Errorf("Features: SetModTime %v precision %v, want true and 1s", f.SetModTime, f.ModTimePrecision)
	}
}

// TestRevSurvivesReads checks that reading a file (which may update its
// access time) does not change its Rev on this mount.
func TestRevSurvivesReads(t *testing.T) {
	srv := sftptest.Start(t)
	c := connect(t, srv.Config(""))
	e := put(t, c, "f", "content", time.Now().Add(-time.Hour))
	for range 3 {
		r, err := c.Open(t.Context(), "f", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		r.Read(make([]byte, 100))
		r.Close()
		readFile(t, filepath.Join(srv.Dir(), "f"))
	}
	if s, err := c.Stat(t.Context(), "f"); err != nil || s.Rev != e.Rev {
		t.Errorf("after reads Stat gives rev %q (%v), Put returned %q", s.Rev, err, e.Rev)
	}
}

func TestPosixRename(t *testing.T) {
	srv := sftptest.Start(t)
	c := connect(t, srv.Config("posix"))
	if ok, err := c.PosixRename(t.Context()); err != nil || !ok {
		t.Fatalf("PosixRename() = %v, %v; OpenSSH offers posix-rename@openssh.com", ok, err)
	}
	put(t, c, "f.txt", "one", time.Time{})
	put(t, c, "f.txt", "two", time.Time{})
	if got := readFile(t, filepath.Join(srv.Dir(), "posix/f.txt")); got != "two" {
		t.Errorf("f.txt holds %q", got)
	}
	if n := sftp.PosixRenames(c); n != 2 {
		t.Errorf("%d of 2 Puts renamed with posix-rename", n)
	}
}

func TestReplaceWithoutPosixRename(t *testing.T) {
	srv := sftptest.Start(t)
	c := connect(t, srv.Config("plain"))
	sftp.NoPosixRename(c)
	old := put(t, c, "d/f.txt", "one", time.Time{})
	e := put(t, c, "d/f.txt", "two", time.Time{})
	if e.Rev == old.Rev {
		t.Errorf("Rev did not change: %q", e.Rev)
	}
	if got := readFile(t, filepath.Join(srv.Dir(), "plain/d/f.txt")); got != "two" {
		t.Errorf("f.txt holds %q", got)
	}
	if got := listDir(t, filepath.Join(srv.Dir(), "plain/d")); !slices.Equal(got, []string{"f.txt"}) {
		t.Errorf("folder holds %q after a replacement", got)
	}
	if n := sftp.PosixRenames(c); n != 0 {
		t.Errorf("posix-rename was used %d times although turned off", n)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestRecover checks that Recover removes an interrupted upload's
// temporary file and puts back a file the fallback had moved aside.
func TestRecover(t *testing.T) {
	srv := sftptest.Start(t)
	c := connect(t, srv.Config(""))
	d := filepath.Join(srv.Dir(), "d")
	writeFile(t, filepath.Join(d, "kept.txt"), []byte("kept"))
	writeFile(t, filepath.Join(d, ".dovetail.tmp.kept.txt.0123456789ab"), []byte("partial upload"))
	writeFile(t, filepath.Join(d, ".dovetail.tmp.moved.txt.0123456789ab.old"), []byte("old content"))
	writeFile(t, filepath.Join(d, ".dovetail.tmp.moved.txt.0123456789ac"), []byte("new content"))
	writeFile(t, filepath.Join(d, ".dovetail.tmp.other.txt.0123456789ab"), []byte("another file's"))
	for _, p := range []string{"d/kept.txt", "d/moved.txt", "d/moved.txt", "missing/x"} {
		if err := c.Recover(t.Context(), p); err != nil {
			t.Fatalf("Recover(%q): %v", p, err)
		}
	}
	want := []string{".dovetail.tmp.other.txt.0123456789ab", "kept.txt", "moved.txt"}
	if got := listDir(t, d); !slices.Equal(got, want) {
		t.Errorf("after Recover the folder holds %q, want %q", got, want)
	}
	if got := readFile(t, filepath.Join(d, "moved.txt")); got != "old content" {
		t.Errorf("moved.txt holds %q, want the old content put back", got)
	}
}

func TestTrashKeepsOldContent(t *testing.T) {
	srv := sftptest.Start(t)
	c := connect(t, srv.Config("root"))
	put(t, c, "a/f.txt", "first", time.Time{})
	put(t, c, "a/f.txt", "second", time.Time{})
	if err := c.Trash(t.Context(), "a/f.txt"); err != nil {
		t.Fatal(err)
	}
	runs := listDir(t, filepath.Join(srv.Dir(), "root/.dovetail/trash"))
	if len(runs) != 1 {
		t.Fatalf("trash holds runs %q", runs)
	}
	dir := filepath.Join(srv.Dir(), "root/.dovetail/trash", runs[0], "a")
	if got := listDir(t, dir); !slices.Equal(got, []string{"f (1).txt", "f.txt"}) {
		t.Fatalf("trash folder holds %q", got)
	}
	if a, b := readFile(t, filepath.Join(dir, "f.txt")), readFile(t, filepath.Join(dir, "f (1).txt")); a != "first" || b != "second" {
		t.Errorf("trash holds %q and %q, want the replaced and the trashed version", a, b)
	}
	// The trash is not part of the synced tree.
	var seen []string
	c.Walk(t.Context(), "", func(e connectors.Entry) error { seen = append(seen, e.Path); return nil }, func(string, error) {})
	if !slices.Equal(seen, []string{"a"}) {
		t.Errorf("Walk listed %q", seen)
	}

	cfg := srv.Config("root2")
	cfg.NoTrash = true
	nt := connect(t, cfg)
	if _, ok := nt.Connector().(connectors.Trasher); ok || nt.Connector().Features().Trash {
		t.Error("with NoTrash the connector still offers a trash")
	}
	put(t, nt, "f", "1", time.Time{})
	put(t, nt, "f", "2", time.Time{})
	if _, err := os.Stat(filepath.Join(srv.Dir(), "root2/.dovetail")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NoTrash made a trash folder: %v", err)
	}
}

// TestSymlinks checks that a symbolic link on the server is reported, not
// followed, and cannot lead a write out of the root.
func TestSymlinks(t *testing.T) {
	srv := sftptest.Start(t)
	c := connect(t, srv.Config("root"))
	outside := t.TempDir()
	put(t, c, "real.txt", "x", time.Time{})
	if err := os.Symlink(outside, filepath.Join(srv.Dir(), "root/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.txt", filepath.Join(srv.Dir(), "root/filelink")); err != nil {
		t.Fatal(err)
	}
	var seen, problems []string
	err := c.Walk(t.Context(), "", func(e connectors.Entry) error { seen = append(seen, e.Path); return nil },
		func(p string, err error) { problems = append(problems, p) })
	slices.Sort(problems)
	if err != nil || !slices.Equal(seen, []string{"real.txt"}) || !slices.Equal(problems, []string{"filelink", "link"}) {
		t.Errorf("Walk listed %q with problems %q (%v)", seen, problems, err)
	}
	_, err = c.Put(t.Context(), "link/escaped.txt", strings.NewReader("x"), connectors.PutOptions{Size: 1})
	wantErr(t, "Put through a link", err, connectors.Invalid, "symbolic link")
	_, err = c.Mkdir(t.Context(), "link/sub")
	wantErr(t, "Mkdir through a link", err, connectors.Invalid, "symbolic link")
	_, err = c.Put(t.Context(), "filelink", strings.NewReader("x"), connectors.PutOptions{Size: 1})
	wantErr(t, "Put onto a link", err, connectors.Invalid, "symbolic link")
	if got := listDir(t, outside); len(got) != 0 {
		t.Errorf("a write escaped the root: %q", got)
	}
	_, err = c.Stat(t.Context(), "filelink")
	wantErr(t, "Stat of a link", err, connectors.Invalid)

	// The root itself may be a link to a folder: that one is followed.
	if err := os.Symlink(filepath.Join(srv.Dir(), "root"), filepath.Join(srv.Dir(), "rootlink")); err != nil {
		t.Fatal(err)
	}
	lc := connect(t, srv.Config("rootlink"))
	if e, err := lc.Stat(t.Context(), ""); err != nil || !e.IsDir() {
		t.Errorf("Stat of a root that is a link to a folder = %+v, %v", e, err)
	}
	if _, err := lc.Mkdir(t.Context(), ""); err != nil {
		t.Errorf("Mkdir of a root that is a link to a folder: %v", err)
	}
	put(t, lc, "via-root-link.txt", "y", time.Time{})
	if got := readFile(t, filepath.Join(srv.Dir(), "root/via-root-link.txt")); got != "y" {
		t.Errorf("file written through the root link holds %q", got)
	}
}

// TestFilesOnDisk checks that what the connector writes is plain files at
// the same relative paths, and that files put there are listed (what the
// engine's end-to-end tests rely on).
func TestFilesOnDisk(t *testing.T) {
	srv := sftptest.Start(t)
	c := connect(t, srv.Config("e2e"))
	put(t, c, "x/y/z.txt", "written remotely", time.Time{})
	if got := readFile(t, filepath.Join(srv.Dir(), "e2e/x/y/z.txt")); got != "written remotely" {
		t.Errorf("file on disk holds %q", got)
	}
	writeFile(t, filepath.Join(srv.Dir(), "e2e/x/local.bin"), bytes.Repeat([]byte{1}, 1000))
	e, err := c.Stat(t.Context(), "x/local.bin")
	if err != nil || e.Size != 1000 || e.Kind != connectors.File {
		t.Errorf("Stat of a file written on disk = %+v, %v", e, err)
	}
}
