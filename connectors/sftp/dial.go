package sftp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dovetail-sync/dovetail/connectors"
)

// session is one SSH connection with its SFTP client.
type session struct {
	ssh  *ssh.Client
	sftp *sftp.Client
	// posixRename and hardlink report the OpenSSH extensions the server
	// offers.
	posixRename bool
	hardlink    bool
	done        chan struct{} // closed when the connection has ended
	broken      atomic.Bool   // set when the session is closed
	closeOnce   sync.Once
}

// dead reports whether the connection has ended or was given up.
func (s *session) dead() bool {
	if s.broken.Load() {
		return true
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *session) close() {
	s.broken.Store(true)
	s.closeOnce.Do(func() {
		// The network connection first: closing the SFTP client waits for
		// its reader, which a stalled connection would block.
		s.ssh.Close()
		s.sftp.Close()
	})
}

// dial opens a session to the server cfg names. Errors are *connectors.Error
// values: Permission for refused credentials and host keys, Transient for
// network failures.
func dial(ctx context.Context, cfg Config, signers []ssh.Signer) (*session, error) {
	const op = "connect"
	hostKey, err := hostKeyChecker(cfg)
	if err != nil {
		return nil, err
	}
	methods, closeAgent := authMethods(cfg, signers)
	defer closeAgent()
	addr := cfg.Addr()
	ccfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              methods,
		HostKeyCallback:   hostKey.check,
		HostKeyAlgorithms: hostKey.algorithms(addr),
		Timeout:           cfg.DialTimeout,
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, &connectors.Error{Kind: connectors.Transient, Op: op, Err: fmt.Errorf("cannot reach %s: %w", addr, err)}
	}
	// The handshake takes no context: bound it with a deadline, and close
	// the connection if ctx ends first.
	deadline, _ := dctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { nc.Close() })
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, ccfg)
	stop()
	if err != nil {
		nc.Close()
		if herr := hostKey.err(); herr != nil {
			return nil, herr
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, &connectors.Error{Kind: connectors.Permission, Op: op, Err: fmt.Errorf(
				"%s@%s refused every credential offered (%s): %v", cfg.User, addr, describeAuth(cfg), err)}
		}
		if ctx.Err() != nil {
			return nil, connectors.Wrap(op, "", ctx.Err())
		}
		return nil, &connectors.Error{Kind: connectors.Transient, Op: op, Err: fmt.Errorf("SSH handshake with %s: %w", addr, err)}
	}
	nc.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	sc, err := sftp.NewClient(client,
		sftp.UseConcurrentWrites(true),
		sftp.UseConcurrentReads(true),
		sftp.UseFstat(true),
		// More requests in flight than this made uploads to OpenSSH on
		// loopback slower, not faster (64, the default: 20 times slower).
		sftp.MaxConcurrentRequestsPerFile(8),
	)
	if err != nil {
		client.Close()
		return nil, &connectors.Error{Kind: connectors.Unimplemented, Op: op, Err: fmt.Errorf(
			"%s does not offer the SFTP subsystem (is it enabled in sshd_config?): %v", addr, err)}
	}
	s := &session{ssh: client, sftp: sc, done: make(chan struct{})}
	_, s.posixRename = sc.HasExtension("posix-rename@openssh.com")
	_, s.hardlink = sc.HasExtension("hardlink@openssh.com")
	go func() {
		client.Wait()
		close(s.done)
	}()
	if cfg.KeepAlive > 0 {
		go keepAlive(s, cfg.KeepAlive)
	}
	return s, nil
}

// keepAlive probes the connection every interval and closes it when the
// server does not answer within another interval, so that calls blocked on
// a server that vanished fail (with kind Transient) instead of hanging.
func keepAlive(s *session, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		answered := make(chan struct{})
		go func() {
			s.ssh.SendRequest("keepalive@openssh.com", true, nil)
			close(answered)
		}()
		select {
		case <-answered:
		case <-s.done:
			return
		case <-time.After(interval):
			s.close()
			return
		}
	}
}

// describeAuth lists the kinds of credential offered, for messages. It
// names key files but never shows a secret.
func describeAuth(cfg Config) string {
	var parts []string
	keys := cfg.KeyFiles
	if len(keys) == 0 {
		keys = existing(defaultKeyFiles())
	}
	if len(keys) > 0 {
		parts = append(parts, "key "+strings.Join(keys, ", "))
	}
	if cfg.AgentSocket != "" {
		parts = append(parts, "ssh-agent keys")
	}
	if cfg.Password != "" {
		parts = append(parts, "password from "+EnvPassword)
	}
	if len(parts) == 0 {
		return "none: give key=, run ssh-agent, or set " + EnvPassword
	}
	return strings.Join(parts, "; ")
}

func existing(files []string) []string {
	var out []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// loadKeys reads the key files cfg names (or the default ones that exist).
// A key named in cfg that cannot be used is an error; a default key that
// cannot be used (encrypted without a passphrase, an unknown format) is
// passed over, as ssh(1) passes over keys it cannot load. Keys are loaded
// once per Conn: decrypting one can take a second.
func loadKeys(cfg Config) ([]ssh.Signer, error) {
	var signers []ssh.Signer
	explicit := len(cfg.KeyFiles) > 0
	files := cfg.KeyFiles
	if !explicit {
		files = defaultKeyFiles()
	}
	for _, f := range files {
		s, err := loadKey(f, cfg.KeyPassphrase)
		switch {
		case err == nil:
			signers = append(signers, s)
		case explicit:
			return nil, &connectors.Error{Kind: connectors.Permission, Op: "connect", Err: err}
		}
	}
	return signers, nil
}

// authMethods returns the ways to log in, in the order they are tried: the
// key files' and the agent's keys (as one public-key method, as ssh(1)
// does), then the password. The returned function closes the agent
// connection.
func authMethods(cfg Config, signers []ssh.Signer) ([]ssh.AuthMethod, func()) {
	closeAgent := func() {}
	var agentSigners func() ([]ssh.Signer, error)
	if cfg.AgentSocket != "" {
		if conn, err := net.Dial("unix", cfg.AgentSocket); err == nil {
			closeAgent = func() { conn.Close() }
			agentSigners = agent.NewClient(conn).Signers
		}
	}
	var methods []ssh.AuthMethod
	if len(signers) > 0 || agentSigners != nil {
		methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			out := signers
			if agentSigners != nil {
				if more, err := agentSigners(); err == nil {
					out = append(out[:len(out):len(out)], more...)
				}
			}
			return out, nil
		}))
	}
	if cfg.Password != "" {
		pw := cfg.Password
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i, q := range questions {
					if !echos[i] && strings.Contains(strings.ToLower(q), "password") {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	return methods, closeAgent
}

// loadKey reads and parses a private key file, decrypting it with
// passphrase when it is encrypted.
func loadKey(file, passphrase string) (ssh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if passphrase == "" {
			return nil, fmt.Errorf("private key %s is encrypted: set %s to its passphrase", file, EnvKeyPassphrase)
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(b, []byte(passphrase))
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("private key %s: the passphrase in %s is wrong", file, EnvKeyPassphrase)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("private key %s: %v", file, err)
	}
	return s, nil
}

// hostKeys checks server host keys against a known_hosts file and keeps
// the reason for a refusal, so that dial can report it instead of the
// handshake's generic error.
type hostKeys struct {
	file string
	cb   ssh.HostKeyCallback // nil when the file does not exist
	port int

	mu      sync.Mutex
	refusal error
}

func hostKeyChecker(cfg Config) (*hostKeys, error) {
	h := &hostKeys{file: cfg.KnownHosts, port: cfg.Port}
	if h.file == "" {
		return nil, &connectors.Error{Kind: connectors.Invalid, Op: "connect", Err: errors.New("no known_hosts file (HOME is not set); give known_hosts= in the URL")}
	}
	cb, err := knownhosts.New(h.file)
	switch {
	case err == nil:
		h.cb = cb
	case errors.Is(err, fs.ErrNotExist):
		// Every host is unknown; check reports how to trust this one.
	default:
		return nil, &connectors.Error{Kind: connectors.Invalid, Op: "connect", Err: fmt.Errorf("known_hosts file %s: %v", h.file, err)}
	}
	return h, nil
}

// algorithms returns the host key algorithms to ask for: those of the keys
// known_hosts has for addr, so that a server with several host keys shows
// the one we can check rather than another that would look unknown. nil
// (the library's default) when none are known.
func (h *hostKeys) algorithms(addr string) []string {
	if h.cb == nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := h.cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey{}); !errors.As(err, &ke) {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		algos := []string{k.Key.Type()}
		if k.Key.Type() == ssh.KeyAlgoRSA {
			algos = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range algos {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// probeKey is a host key of no real type, presented to the known_hosts
// callback to learn which keys it has for a host.
type probeKey struct{}

func (probeKey) Type() string                        { return "dovetail-probe" }
func (probeKey) Marshal() []byte                     { return []byte("dovetail-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

func (h *hostKeys) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refusal
}

func (h *hostKeys) refuse(err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refusal = &connectors.Error{Kind: connectors.Permission, Op: "connect", Err: err}
	return h.refusal
}

// check is the ssh.HostKeyCallback: the key must be in known_hosts.
func (h *hostKeys) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	var err error
	if h.cb != nil {
		err = h.cb(hostname, remote, key)
	} else {
		err = &knownhosts.KeyError{}
	}
	if err == nil {
		return nil
	}
	fp := ssh.FingerprintSHA256(key)
	var revoked *knownhosts.RevokedError
	if errors.As(err, &revoked) {
		return h.refuse(fmt.Errorf("the host key of %s (%s %s) is marked @revoked in %s", hostname, key.Type(), fp, h.file))
	}
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return h.refuse(fmt.Errorf("checking the host key of %s against %s: %v", hostname, h.file, err))
	}
	host, port, _ := net.SplitHostPort(hostname)
	scan := "ssh-keyscan -t " + keyscanType(key.Type())
	if port != "22" {
		scan += " -p " + port
	}
	scan += " " + host + " >> " + h.file
	if len(ke.Want) > 0 {
		var known []string
		for _, k := range ke.Want {
			known = append(known, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
		}
		return h.refuse(fmt.Errorf("WARNING: THE HOST KEY OF %s HAS CHANGED. It now presents %s %s, but %s records %s. "+
			"Someone may be intercepting the connection, or the server was reinstalled. No credentials were sent. "+
			"Only if the server's administrator confirms the new fingerprint, remove the old line with "+
			"`ssh-keygen -R %s -f %s` and trust the new key with `%s`",
			hostname, key.Type(), fp, h.file, strings.Join(known, ", "), knownhosts.Normalize(hostname), h.file, scan))
	}
	return h.refuse(fmt.Errorf("the host key of %s is not known (%s %s is not in %s). "+
		"Check that fingerprint with the server's administrator (on the server: `ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub`), then trust it: "+
		"`%s` (it adds the line: %s)",
		hostname, key.Type(), fp, h.file, keyscanType(key.Type()), scan,
		knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)))
}

// keyscanType maps a key type to ssh-keyscan's -t name.
func keyscanType(t string) string {
	switch {
	case t == ssh.KeyAlgoED25519:
		return "ed25519"
	case t == ssh.KeyAlgoRSA:
		return "rsa"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	}
	return t
}
