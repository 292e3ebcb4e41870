// Package s3test starts a real S3 server, versitygw with its POSIX backend,
// for tests: buckets are folders and objects are plain files on disk, so a
// test can check through the file system what a sync wrote through S3, and
// files written under Dir are objects at the same paths.
//
// One difference from a plain folder: versitygw lists a folder only if it
// holds something or was made through S3 (a "dir/" marker object, which
// it keeps as a folder with an attribute). An empty folder made on disk
// with os.Mkdir is invisible through S3; make it with the connector's
// Mkdir, or put a file in it.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dovetail-sync/dovetail/internal/testenv"
)

// Credentials and bucket of every test server.
const (
	AccessKey = "dovetail-test-access"
	SecretKey = "dovetail-test-secret-key"
	Bucket    = "dovetail"
	Region    = "us-east-1"
)

// Install is how to get the server binary.
const Install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Server is a running versitygw.
type Server struct {
	addr string
	root string

	mu  sync.Mutex
	out bytes.Buffer
}

// Start runs versitygw on a free port of 127.0.0.1, serving a fresh
// folder, creates the bucket Bucket, and stops the server when t ends. A
// missing versitygw skips t, or fails it under CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := testenv.Tool(t, "versitygw", Install, testenv.GoBin())
	root := t.TempDir()
	s := &Server{root: root}
	var cmd *exec.Cmd
	for attempt := 0; ; attempt++ {
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
		cmd = exec.Command(bin, "--access", AccessKey, "--secret", SecretKey, "--port", s.addr, "--quiet", "--keep-alive", "posix", root)
		cmd.Stdout, cmd.Stderr = s.writer(), s.writer()
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting versitygw: %v", err)
		}
		if s.waitReady(5 * time.Second) {
			break
		}
		cmd.Process.Kill()
		cmd.Wait()
		if attempt == 2 {
			t.Fatalf("versitygw did not start listening on %s:\n%s", s.addr, s.output())
		}
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", s.output())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		t.Fatalf("creating bucket %s: %v\n%s", Bucket, err, s.output())
	}
	return s
}

type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.out.Len() > 1<<20 {
		w.s.out.Reset()
	}
	return w.s.out.Write(p)
}

func (s *Server) writer() lockedWriter { return lockedWriter{s} }

func (s *Server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *Server) waitReady(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Endpoint is the server's base URL.
func (s *Server) Endpoint() string { return "http://" + s.addr }

// URL returns the s3:// URL of the folder sub of the test bucket ("" for
// the whole bucket), which s3.ParseURL and s3.New accept given Env.
func (s *Server) URL(sub string) string {
	q := url.Values{"endpoint": {s.Endpoint()}, "region": {Region}, "path_style": {"true"}}
	u := url.URL{Scheme: "s3", Host: Bucket, Path: "/" + sub, RawQuery: q.Encode()}
	return u.String()
}

// Dir is the folder on disk holding the bucket's objects: the object at
// key k is the file Dir()/k, so URL(sub)'s files are under Dir()/sub.
// Dir()/.sgwtmp holds the server's temporary and multipart-upload files;
// root tests at a sub-folder to keep it out of their trees.
func (s *Server) Dir() string { return filepath.Join(s.root, Bucket) }

// Env returns the environment variables that give the credentials of the
// server ("KEY=value").
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=" + Region,
	}
}

// SetEnv sets Env's variables for the duration of t (so t cannot be
// parallel).
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// Client returns an SDK client of the server, for tests that look at the
// bucket directly.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint()),
		Region:       Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
}

// String describes the server for messages.
func (s *Server) String() string { return fmt.Sprintf("versitygw at %s serving %s", s.addr, s.root) }
