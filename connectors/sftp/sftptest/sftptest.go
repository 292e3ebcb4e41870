// Package sftptest starts a real OpenSSH sshd on 127.0.0.1 for tests, with
// a private configuration in a temporary folder: its own host key, one
// client key (encrypted with a passphrase), a known_hosts file that trusts
// the host key, and the SFTP subsystem (internal-sftp) starting in Dir().
//
// A missing sshd fails the test under CI=true and skips it elsewhere (see
// internal/testenv).
package sftptest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dovetail-sync/dovetail/connectors/sftp"
	"github.com/dovetail-sync/dovetail/internal/testenv"
)

// Passphrase encrypts the client key Start makes.
const Passphrase = "dovetail test passphrase"

// Server is a running sshd.
type Server struct {
	dir        string // the login folder: the root of URL("")
	conf       string // sshd's configuration, keys and logs
	user       string
	port       int
	keyFile    string
	knownHosts string
	hostKey    ssh.PublicKey
	log        *lockedBuffer
}

// Start starts sshd and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	sshd := testenv.Tool(t, "sshd", "Debian package openssh-server", "/usr/sbin", "/usr/local/sbin")
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sftptest: current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// sshd's privilege separation folder; Debian creates it only when
		// the service starts.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sftptest: %v", err)
		}
	}
	s := &Server{dir: t.TempDir(), conf: t.TempDir(), user: u.Username, port: testenv.FreePort(t), log: &lockedBuffer{}}
	hostPub, hostPEM := newKey(t, "")
	clientPub, clientPEM := newKey(t, Passphrase)
	s.hostKey = hostPub
	s.keyFile = filepath.Join(s.conf, "id_ed25519")
	s.knownHosts = filepath.Join(s.conf, "known_hosts")
	hostKeyFile := filepath.Join(s.conf, "ssh_host_ed25519_key")
	authorized := filepath.Join(s.conf, "authorized_keys")
	// sshd refuses a host key file others may read: writeFile makes 0600.
	writeFile(t, hostKeyFile, hostPEM)
	writeFile(t, s.keyFile, clientPEM)
	writeFile(t, authorized, ssh.MarshalAuthorizedKey(clientPub))
	writeFile(t, s.knownHosts, nil)
	s.TrustAddr(t, s.Addr())
	config := strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"Port " + strconv.Itoa(s.port),
		"HostKey " + hostKeyFile,
		"PidFile " + filepath.Join(s.conf, "sshd.pid"),
		"AuthorizedKeysFile " + authorized,
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"UseDNS no",
		"AllowUsers " + s.user,
		"Subsystem sftp internal-sftp -d " + s.dir,
		"LogLevel VERBOSE",
		"",
	}, "\n")
	configFile := filepath.Join(s.conf, "sshd_config")
	writeFile(t, configFile, []byte(config))

	cmd := exec.Command(sshd, "-D", "-e", "-f", configFile)
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sftptest: starting %s: %v", sshd, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.log.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if ready(s.Addr()) {
			return s
		}
		select {
		case <-exited:
			t.Fatalf("sftptest: sshd exited at start:\n%s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sftptest: sshd did not answer on %s within 15s:\n%s", s.Addr(), s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready reports whether an SSH server answers on addr.
func ready(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Dir is the local folder that URL("") is rooted at: the login folder.
func (s *Server) Dir() string { return s.dir }

// User is the login name.
func (s *Server) User() string { return s.user }

// KeyFile is the client's private key, encrypted with Passphrase.
func (s *Server) KeyFile() string { return s.keyFile }

// KnownHosts is the known_hosts file that trusts the server.
func (s *Server) KnownHosts() string { return s.knownHosts }

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey }

// Log returns what sshd has logged so far.
func (s *Server) Log() string { return s.log.String() }

// URL returns a URL rooted at the folder sub of Dir() (which need not
// exist), in the form sftp.ParseURL reads; its credentials are in Env().
func (s *Server) URL(sub string) string {
	return s.URLFor(s.Addr(), sub)
}

// URLFor is URL for the server reached at addr (a proxy in front of it,
// which must be trusted with TrustAddr).
func (s *Server) URLFor(addr, sub string) string {
	q := url.Values{"key": {s.keyFile}, "known_hosts": {s.knownHosts}}
	u := url.URL{Scheme: "sftp", User: url.User(s.user), Host: addr, Path: "/" + filepath.ToSlash(sub), RawQuery: q.Encode()}
	return u.String()
}

// Env returns the environment variables URL needs: the key's passphrase.
func (s *Server) Env() []string {
	return []string{sftp.EnvKeyPassphrase + "=" + Passphrase}
}

// Config returns the sftp.Config of URL(sub), with the passphrase filled in
// and no ssh-agent or password, whatever the environment says.
func (s *Server) Config(sub string) sftp.Config {
	return sftp.Config{
		User:          s.user,
		Host:          "127.0.0.1",
		Port:          s.port,
		Path:          filepath.ToSlash(sub),
		KeyFiles:      []string{s.keyFile},
		KeyPassphrase: Passphrase,
		KnownHosts:    s.knownHosts,
	}
}

// TrustAddr adds the server's host key for addr ("host:port") to
// KnownHosts, so that a proxy in front of the server is trusted too.
func (s *Server) TrustAddr(t testing.TB, addr string) {
	t.Helper()
	f, err := os.OpenFile(s.knownHosts, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("sftptest: %v", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(addr)}, s.hostKey)); err != nil {
		t.Fatalf("sftptest: %v", err)
	}
}

// newKey makes an ed25519 key pair, the private key in OpenSSH format,
// encrypted when passphrase is not "".
func newKey(t testing.TB, passphrase string) (ssh.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "dovetail test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "dovetail test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp, pem.EncodeToMemory(block)
}

func writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatalf("sftptest: %v", err)
	}
}

// lockedBuffer collects sshd's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
