package main

// The remote kinds the scenarios run against: a local folder, and each
// network connector in front of its real server (OpenSSH sshd, versitygw,
// Apache mod_dav) whose root is a plain folder on this machine, so that a
// scenario's setup commands and checks work on the files behind the
// server while the sync speaks the network protocol.

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/crypto/ssh"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/dial"
	"github.com/dovetail-sync/dovetail/connectors/s3/s3test"
	"github.com/dovetail-sync/dovetail/connectors/sftp/sftptest"
	"github.com/dovetail-sync/dovetail/connectors/webdav/webdavtest"
)

// remoteKinds are the kinds of remote side every scenario runs against, in
// this order. start starts the kind's server for the rest of t, or skips t
// (fails it under CI=true) where the server is not installed.
var remoteKinds = []struct {
	name  string
	start func(t *testing.T) *remoteKind
}{
	{"local", func(*testing.T) *remoteKind {
		return &remoteKind{name: "local", caps: map[string]bool{"remote-ids": true, "remote-long-names": true}}
	}},
	{"sftp", startSFTP},
	{"s3", startS3},
	{"webdav", func(t *testing.T) *remoteKind {
		k := networkKind(t, "webdav", webdavtest.Start(t))
		// mod_dav_fs writes a PUT's body to .davfs.tmp* next to the target
		// and renames it into place: the server's temporary file.
		k.serverTemp = func(dir string) ([]string, error) { return walkNames(dir, ".davfs.tmp") }
		return k
	}},
}

// knownBugs lists, per remote kind, scenarios that fail there because of a
// known bug (of that kind's connector or server, or of the engine where
// only that kind shows it), each with the pending scenario that shows the
// bug on its own. They are skipped on that kind with a message naming the
// pending scenario, and run anyway when DOVETAIL_SCENARIOS_PENDING is set.
// When the bug is fixed, delete the entries and move the pending scenario
// up.
var knownBugs = map[string]map[string]string{
	"webdav": {
		"083-rename-chain": "pending/911-rename-onto-file-same-size-same-second.txt",
	},
}

// server is what the connectors' test helpers (sftptest, s3test,
// webdavtest) have in common.
type server interface {
	// Dir is the folder behind the server's root: URL(sub)'s files are
	// plain files under Dir()/sub.
	Dir() string
	// URL is a remote argument of "dovetail sync" rooted at sub.
	URL(sub string) string
	// Env holds the credentials URL needs, as KEY=value.
	Env() []string
}

// remoteKind is one kind of remote side, shared by all the scenarios that
// run against it.
type remoteKind struct {
	name string
	srv  server // nil for local
	// feat are the features the connector reports and caps what it was
	// found to do: they decide the scenarios' "requires" capabilities.
	feat connectors.Features
	caps map[string]bool
	// objects, when set, makes the scenario's remote writes, folders and
	// times through the server's API instead of on disk (S3 keeps times
	// in metadata, and a folder made on disk is not an S3 folder).
	objects *s3Objects
	// serverTemp lists the server's own temporary files below a scenario's
	// remote folder (or, for S3, its unfinished multipart uploads): what a
	// transfer in progress leaves there, and debris once none is.
	serverTemp func(dir string) ([]string, error)
}

// networkKind prepares a kind served by srv: the credentials go into the
// environment for the rest of t (the scenarios run in-process, and the
// crash command passes the environment on), and the connector is opened
// once through a URL, as a sync opens it, to read its features and find
// out what it does (in the folder capabilitiesDir of the server).
func networkKind(t *testing.T, name string, srv server) *remoteKind {
	t.Helper()
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := os.MkdirAll(filepath.Join(srv.Dir(), capabilitiesDir), 0o755); err != nil {
		t.Fatal(err)
	}
	rem, err := dial.Open(ctx, srv.URL(capabilitiesDir))
	if err != nil {
		t.Fatalf("%s: opening %s: %v", name, srv.URL(capabilitiesDir), err)
	}
	defer rem.Close()
	k := &remoteKind{name: name, srv: srv, feat: rem.Features(), caps: map[string]bool{}}

	// remote-ids: a file made on the server has an ID, so that the engine
	// can tell a rename on the server from a delete and a new file.
	if err := os.WriteFile(filepath.Join(srv.Dir(), capabilitiesDir, "id"), []byte("id"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := rem.Stat(ctx, "id")
	if err != nil {
		t.Fatalf("%s: stat of a file made on the server: %v", name, err)
	}
	k.caps["remote-ids"] = e.ID != ""

	// remote-long-names: a file with a 255-byte name (the limit of most
	// file systems) can be written, and replaced.
	long := strings.Repeat("n", 251) + ".txt"
	k.caps["remote-long-names"] = true
	for _, content := range []string{"first", "second"} {
		if _, err := rem.Put(ctx, long, strings.NewReader(content), connectors.PutOptions{Size: int64(len(content))}); err != nil {
			t.Logf("%s: cannot hold files with 255-byte names: %v", name, err)
			k.caps["remote-long-names"] = false
			break
		}
	}
	return k
}

// capabilitiesDir is the folder of a server where networkKind tries the
// connector out; scenario folders are named after the scenario files.
const capabilitiesDir = "capabilities"

// has reports whether the kind has the capability a scenario's "requires"
// line names (see knownRequirements).
func (k *remoteKind) has(req string) bool {
	switch req {
	case "non-root":
		return os.Geteuid() != 0
	case "remote-trash":
		// A trash at ROOT/.dovetail/trash, where "expect trash remote"
		// looks: the local connector's, and the SFTP connector's.
		return k.srv == nil || k.feat.Trash
	case "remote-mtime":
		return k.srv == nil || k.feat.SetModTime
	case "remote-ids", "remote-long-names":
		return k.caps[req]
	}
	kind, ok := strings.CutPrefix(req, "remote=")
	return ok && kind == k.name
}

// knownRequirements are the words a "requires" line may name.
var knownRequirements = []string{"non-root", "remote-trash", "remote-mtime", "remote-ids", "remote-long-names",
	"remote=local", "remote=sftp", "remote=s3", "remote=webdav"}

// whyNot says why the kind lacks req, for the skip message.
func (k *remoteKind) whyNot(req string) string {
	switch req {
	case "non-root":
		return "running as uid 0, where file permissions do not stop reads"
	case "remote-trash":
		return "the " + k.name + " connector keeps no trash of deleted remote files"
	case "remote-mtime":
		return "the " + k.name + " connector cannot set modification times"
	case "remote-ids":
		return "the " + k.name + " connector reports no file IDs, so a rename on the server is a delete and a new file"
	case "remote-long-names":
		return "the " + k.name + " test server cannot write or replace a file with a 255-byte name"
	}
	return "the remote is " + k.name
}

// mtimeStep is how much later than an earlier write a new write must be
// for the remote to tell them apart: its time precision (SFTP carries
// whole seconds).
func (k *remoteKind) mtimeStep() time.Duration {
	return max(k.feat.ModTimePrecision, time.Millisecond)
}

// startSFTP starts sshd. The scenarios log in with an unencrypted copy of
// the test key: decrypting the passphrase-protected one (bcrypt, 16
// rounds) costs a third of a second of CPU on every sync, which made this
// kind take 1m41s instead of 1m16s on a busy 2-core machine. The
// passphrase path is tested in connectors/sftp.
func startSFTP(t *testing.T) *remoteKind {
	srv := sftptest.Start(t)
	pemBytes, err := os.ReadFile(srv.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParseRawPrivateKeyWithPassphrase(pemBytes, []byte(sftptest.Passphrase))
	if err != nil {
		t.Fatalf("sftp: decrypting the test key: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(key, "dovetail scenarios")
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(plain, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return networkKind(t, "sftp", plainKeySFTP{srv, plain})
}

// plainKeySFTP is an sshd whose URLs name an unencrypted key.
type plainKeySFTP struct {
	*sftptest.Server
	key string
}

func (s plainKeySFTP) URL(sub string) string {
	u, err := url.Parse(s.Server.URL(sub))
	if err != nil {
		panic(err) // sftptest makes the URL
	}
	q := u.Query()
	q.Set("key", s.key)
	u.RawQuery = q.Encode()
	return u.String()
}

// Env is empty: the key needs no passphrase.
func (s plainKeySFTP) Env() []string { return nil }

// startS3 starts versitygw. Remote writes of the scenarios go through its
// API: the S3 connector reads times from the object's metadata, which a
// file rewritten on disk would keep from its earlier version.
func startS3(t *testing.T) *remoteKind {
	srv := s3test.Start(t)
	srv.SetEnv(t)
	k := networkKind(t, "s3", srv)
	k.objects = &s3Objects{client: srv.Client(), dir: srv.Dir()}
	k.serverTemp = k.objects.uploads
	return k
}

// remoteSide is the remote side of one running scenario.
type remoteSide struct {
	kind *remoteKind
	dir  string // the folder on disk: REMOTE in setup commands and checks
	arg  string // the REMOTE argument of the sync: dir, or a URL
}

func (k *remoteKind) side(tmp, name string) *remoteSide {
	if k.srv == nil {
		return &remoteSide{kind: k, dir: filepath.Join(tmp, "remote"), arg: filepath.Join(tmp, "remote")}
	}
	return &remoteSide{kind: k, dir: filepath.Join(k.srv.Dir(), name), arg: k.srv.URL(name)}
}

// debris lists the temporary files of transfers under the scenario's
// roots: Dovetail's own, and those of the server.
func (e *senv) debris() []string {
	e.t.Helper()
	out := tempFiles(e.local, e.remote)
	if f := e.rs.kind.serverTemp; f != nil {
		more, err := f(e.remote)
		e.check(err)
		out = append(out, more...)
	}
	return out
}

// inTransfer reports whether the temporary file p (an entry of debris)
// belongs to a file transfer, which the crash command waits for: not the
// WebDAV connector's probe of the server, which writes a few bytes through
// its own temporary file (and Apache's) when it connects.
func inTransfer(p string) bool {
	name := filepath.Base(p)
	if strings.HasPrefix(name, ".dovetail.tmp.probe.") {
		return false
	}
	if strings.HasPrefix(name, ".davfs.tmp") {
		st, err := os.Stat(p)
		return err == nil && st.Size() >= 64<<10
	}
	return true
}

// walkNames lists the files below dir whose name starts with prefix.
func walkNames(dir, prefix string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), prefix) {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// s3Objects writes the scenarios' remote files through the S3 API of
// versitygw, whose bucket folder is dir.
type s3Objects struct {
	client *awss3.Client
	dir    string
}

// key is the object key of the file full (a path under dir).
func (o *s3Objects) key(full string) (string, error) {
	rel, err := filepath.Rel(o.dir, full)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%s is not inside the bucket folder %s", full, o.dir)
	}
	return filepath.ToSlash(rel), nil
}

func ctxAPI() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// mtime is the modification time the S3 connector reports for the object
// at full (its metadata, as rclone writes it), and whether it exists.
func (o *s3Objects) mtime(full string) (time.Time, bool, error) {
	key, err := o.key(full)
	if err != nil {
		return time.Time{}, false, err
	}
	ctx, cancel := ctxAPI()
	defer cancel()
	h, err := o.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s3test.Bucket), Key: &key})
	if err != nil {
		var nf *s3types.NotFound
		if errors.As(err, &nf) {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, fmt.Errorf("HEAD %s: %v", key, err)
	}
	if t, ok := parseS3Mtime(h.Metadata["mtime"]); ok {
		return t, true, nil
	}
	return aws.ToTime(h.LastModified), true, nil
}

// put uploads the file full with content r of size n, stamped mtime.
func (o *s3Objects) put(full string, r io.Reader, n int64, mtime time.Time) error {
	key, err := o.key(full)
	if err != nil {
		return err
	}
	body := make([]byte, 0, n)
	buf := bytes.NewBuffer(body)
	if _, err := io.Copy(buf, r); err != nil {
		return err
	}
	ctx, cancel := ctxAPI()
	defer cancel()
	_, err = o.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(s3test.Bucket), Key: &key, Body: bytes.NewReader(buf.Bytes()),
		Metadata: map[string]string{"mtime": formatS3Mtime(mtime)},
	})
	if err != nil {
		return fmt.Errorf("PUT %s: %v", key, err)
	}
	return nil
}

// setMtime changes the time in the metadata of the object at full, by
// copying it onto itself, as "rclone touch" does.
func (o *s3Objects) setMtime(full string, t time.Time) error {
	key, err := o.key(full)
	if err != nil {
		return err
	}
	ctx, cancel := ctxAPI()
	defer cancel()
	h, err := o.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s3test.Bucket), Key: &key})
	if err != nil {
		return fmt.Errorf("HEAD %s: %v", key, err)
	}
	meta := h.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	meta["mtime"] = formatS3Mtime(t)
	_, err = o.client.CopyObject(ctx, &awss3.CopyObjectInput{
		Bucket: aws.String(s3test.Bucket), Key: &key, CopySource: aws.String(s3test.Bucket + "/" + key),
		Metadata: meta, MetadataDirective: s3types.MetadataDirectiveReplace,
	})
	if err != nil {
		return fmt.Errorf("COPY %s onto itself: %v", key, err)
	}
	return nil
}

// mkdir makes the folder full as S3 clients do: a "dir/" marker object.
func (o *s3Objects) mkdir(full string) error {
	key, err := o.key(full)
	if err != nil {
		return err
	}
	key += "/"
	ctx, cancel := ctxAPI()
	defer cancel()
	if _, err := o.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s3test.Bucket), Key: &key, Body: bytes.NewReader(nil)}); err != nil {
		return fmt.Errorf("PUT %s: %v", key, err)
	}
	return nil
}

// uploads lists the unfinished multipart uploads below the folder dir.
func (o *s3Objects) uploads(dir string) ([]string, error) {
	prefix, err := o.key(dir)
	if err != nil {
		return nil, err
	}
	prefix += "/"
	ctx, cancel := ctxAPI()
	defer cancel()
	var out []string
	p := awss3.NewListMultipartUploadsPaginator(o.client, &awss3.ListMultipartUploadsInput{Bucket: aws.String(s3test.Bucket), Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing multipart uploads of %s: %v", prefix, err)
		}
		for _, u := range page.Uploads {
			out = append(out, "multipart upload "+aws.ToString(u.UploadId)+" of "+aws.ToString(u.Key))
		}
	}
	slices.Sort(out)
	return out, nil
}

// formatS3Mtime and parseS3Mtime write and read rclone's x-amz-meta-mtime:
// Unix seconds, a dot, nine digits of nanoseconds.
func formatS3Mtime(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

func parseS3Mtime(s string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || len(frac) > 9 {
		return time.Time{}, false
	}
	ns := int64(0)
	if frac != "" {
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		ns = f
	}
	return time.Unix(n, ns), true
}
