//go:build linux

package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is a storage server the harness runs on 127.0.0.1 for the network
// cells. Each serves folders of the local disk, so that what a tool wrote
// through it can be checked by reading the files.
type server struct {
	name    string // the connector it serves: "sftp", "s3", "webdav"
	version string // what it is, for the report
	// root is the folder under which remote folders live; url gives the
	// URL of the remote folder whose files are in dir (under root, except
	// for sshd, which serves every absolute path).
	root string
	url  func(dir string) string
	env  []string // what "dovetail sync" needs to log in

	// sshd only: what rclone's sftp backend needs.
	user, keyFile, knownHosts string
	port                      int

	cmd     *exec.Cmd
	exited  chan struct{}
	logFile string
}

// notAvailable is a server that cannot run here (not installed): its cells
// are marked "not available", not failed.
type notAvailable string

func (n notAvailable) Error() string { return string(n) }

// launcher returns the command that runs a server on port, after writing
// the configuration that depends on the port.
type launcher func(port int) (*exec.Cmd, error)

// start runs the server on a free port, retrying on another port when it
// does not come up (another process may have taken the port meanwhile),
// and waits until ready answers.
func (s *server) start(launch launcher, ready func(addr string) bool) error {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		if last = s.startOn(port, launch, ready); last == nil {
			s.port = port
			return nil
		}
		logf("%s: %v", s.name, last)
	}
	return last
}

func (s *server) startOn(port int, launch launcher, ready func(addr string) bool) error {
	cmd, err := launch(port)
	if err != nil {
		return err
	}
	log, err := os.OpenFile(s.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// A harness killed without its cleanup takes its servers with it.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited at start (log %s): %s", filepath.Base(cmd.Path), s.logFile, lastLines(s.logFile))
		default:
		}
		if ready(addr) {
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s did not answer on %s within 20 s (log %s)", filepath.Base(cmd.Path), addr, s.logFile)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the server: SIGTERM, then SIGKILL after 10 seconds.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// rel is dir relative to the server's root, slash-separated.
func (s *server) rel(dir string) string {
	r, err := filepath.Rel(s.root, dir)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		panic(fmt.Sprintf("%s: remote folder %s is not under %s", s.name, dir, s.root))
	}
	return filepath.ToSlash(r)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// sshReady reports whether an SSH server greets on addr.
func sshReady(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

// findBin returns the first of the candidate paths that exists, or the
// program name found on PATH.
func findBin(name string, dirs ...string) (string, bool) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, true
		}
	}
	p, err := exec.LookPath(name)
	return p, err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startSSHD runs OpenSSH's sshd with a private configuration under dir: a
// host key, a client key without passphrase for the current user, a
// known_hosts file that trusts the host key at 127.0.0.1:port, and the
// SFTP subsystem (internal-sftp). Remote paths are absolute.
func startSSHD(dir, logFile string) (*server, error) {
	sshd, ok := findBin("sshd", "/usr/sbin", "/usr/local/sbin")
	if !ok {
		return nil, notAvailable("sshd not installed (Debian package openssh-server)")
	}
	keygen, ok := findBin("ssh-keygen", "/usr/bin")
	if !ok {
		return nil, notAvailable("ssh-keygen not installed (Debian package openssh-client)")
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		// sshd's privilege separation folder; Debian makes it only when
		// the service starts.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, err
		}
	}
	conf, home := filepath.Join(dir, "conf"), filepath.Join(dir, "home")
	s := &server{name: "sftp", root: filepath.Join(dir, "data"), user: u.Username, logFile: logFile,
		keyFile: filepath.Join(conf, "id_ed25519"), knownHosts: filepath.Join(conf, "known_hosts"),
		env: []string{"SSH_AUTH_SOCK="}}
	for _, d := range []string{conf, home, s.root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	hostKey := filepath.Join(conf, "ssh_host_ed25519_key")
	for _, k := range []string{hostKey, s.keyFile} {
		if err := untimed(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "dovetail-bench", "-f", k); err != nil {
			return nil, err
		}
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, err
	}
	clientPub, err := os.ReadFile(s.keyFile + ".pub")
	if err != nil {
		return nil, err
	}
	authorized := filepath.Join(conf, "authorized_keys")
	if err := os.WriteFile(authorized, clientPub, 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.Command(sshd, "-V").CombinedOutput(); err == nil || len(out) > 0 {
		v, _, _ := strings.Cut(strings.TrimSpace(string(out)), ",")
		s.version = v + " sshd"
	}
	f := strings.Fields(string(hostPub))
	if len(f) < 2 {
		return nil, fmt.Errorf("ssh-keygen wrote an unreadable %s.pub", hostKey)
	}
	launch := func(port int) (*exec.Cmd, error) {
		line := fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, f[0], f[1])
		if err := os.WriteFile(s.knownHosts, []byte(line), 0o600); err != nil {
			return nil, err
		}
		config := strings.Join([]string{
			"ListenAddress 127.0.0.1",
			"Port " + strconv.Itoa(port),
			"HostKey " + hostKey,
			"PidFile " + filepath.Join(conf, "sshd.pid"),
			"AuthorizedKeysFile " + authorized,
			"PubkeyAuthentication yes",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"UsePAM no",
			"StrictModes no",
			"UseDNS no",
			"AllowUsers " + s.user,
			"Subsystem sftp internal-sftp",
			// Commands run over SSH (rclone's md5sum after each upload)
			// start a login shell: with an empty home it reads no
			// startup files, as on a NAS account, whatever the
			// harness user's own .bashrc does.
			"SetEnv HOME=" + home,
			"LogLevel ERROR",
			"",
		}, "\n")
		file := filepath.Join(conf, "sshd_config")
		if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
			return nil, err
		}
		return exec.Command(sshd, "-D", "-e", "-f", file), nil
	}
	if err := s.start(launch, sshReady); err != nil {
		return nil, err
	}
	s.url = func(dir string) string {
		q := url.Values{"key": {s.keyFile}, "known_hosts": {s.knownHosts}}
		// Two slashes: an absolute path on the server.
		u := url.URL{Scheme: "sftp", User: url.User(s.user), Host: s.addr(), Path: "/" + filepath.ToSlash(dir), RawQuery: q.Encode()}
		return u.String()
	}
	return s, nil
}

// rclone is the rclone connection string of the folder dir on sshd (the
// sftp backend with the same key and known_hosts as Dovetail).
//
// disable_hashcheck makes rclone compare size and modification time, as
// Dovetail does over SFTP: by default it runs md5sum on the server over
// SSH for every file it lists or copies, one SSH session each, which at
// 100,000 files takes hours (see docs/benchmarks.md).
func (s *server) rclone(dir string) string {
	return fmt.Sprintf(":sftp,host=127.0.0.1,port=%d,user=%s,key_file=%s,known_hosts_file=%s,disable_hashcheck=true:%s",
		s.port, s.user, s.keyFile, s.knownHosts, dir)
}

// rcloneNote is the note on rclone's rows over SFTP.
const rcloneNote = "sftp disable_hashcheck=true: size and mtime, no md5sum over SSH per file"

// s3Bucket is the bucket versitygw serves.
const s3Bucket = "bench"

// startVersity runs versitygw's POSIX backend, where a bucket is a folder
// and an object a file, serving dir with one bucket. The credentials are
// made up per run.
func startVersity(dir, logFile string) (*server, error) {
	var gopath []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, p := range filepath.SplitList(strings.TrimSpace(string(out))) {
			gopath = append(gopath, filepath.Join(p, "bin"))
		}
	}
	bin, ok := findBin("versitygw", gopath...)
	if !ok {
		return nil, notAvailable("versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	}
	data := filepath.Join(dir, "data")
	access, secret := "dovetail-bench", randomHex(16)
	s := &server{name: "s3", root: filepath.Join(data, s3Bucket), logFile: logFile, version: "versitygw (posix)",
		env: []string{
			"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_SESSION_TOKEN=",
			"AWS_REGION=us-east-1", "AWS_PROFILE=", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		}}
	if bi, err := buildinfo.ReadFile(bin); err == nil && bi.Main.Version != "" {
		s.version = "versitygw " + bi.Main.Version + " (posix)"
	}
	// The root account may use a bucket made as a folder on disk.
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		return nil, err
	}
	launch := func(port int) (*exec.Cmd, error) {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		return exec.Command(bin, "--access", access, "--secret", secret, "--port", addr, "--quiet", "--keep-alive", "posix", data), nil
	}
	if err := s.start(launch, listening); err != nil {
		return nil, err
	}
	s.url = func(dir string) string {
		q := url.Values{"endpoint": {"http://" + s.addr()}, "region": {"us-east-1"}, "path_style": {"true"}}
		u := url.URL{Scheme: "s3", Host: s3Bucket, Path: "/" + s.rel(dir), RawQuery: q.Encode()}
		return u.String()
	}
	return s, nil
}

// startApache runs Apache httpd with mod_dav in the foreground (-X),
// serving dir behind basic authentication with a password made up per run.
//
// As root, Apache would switch to an unprivileged user that could not write
// the served folder; so it runs in a new user namespace without mappings,
// where it is not root and does not switch (the files it creates still
// belong to the harness's user).
func startApache(dir, logFile string) (*server, error) {
	bin, ok := findBin("apache2", "/usr/sbin")
	if !ok {
		return nil, notAvailable("apache2 not installed (Debian package apache2)")
	}
	const modules = "/usr/lib/apache2/modules"
	if _, err := os.Stat(filepath.Join(modules, "mod_dav_fs.so")); err != nil {
		return nil, notAvailable("Apache's mod_dav_fs not found in " + modules + " (Debian package apache2)")
	}
	run := filepath.Join(dir, "run")
	const davUser = "dovetail"
	password := randomHex(16)
	s := &server{name: "webdav", root: filepath.Join(dir, "data"), logFile: logFile, version: "Apache mod_dav",
		env: []string{"DOVETAIL_WEBDAV_PASSWORD=" + password}}
	if out, err := exec.Command(bin, "-v").Output(); err == nil {
		if _, v, ok := strings.Cut(strings.SplitN(string(out), "\n", 2)[0], ": "); ok {
			s.version = strings.TrimSpace(v) + " mod_dav"
		}
	}
	for _, d := range []string{run, s.root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// {SHA} is one of the password formats mod_authn_file reads everywhere.
	sum := sha1.Sum([]byte(password))
	users := filepath.Join(run, "htpasswd")
	if err := os.WriteFile(users, []byte(davUser+":{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		return nil, err
	}
	launch := func(port int) (*exec.Cmd, error) {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		var b strings.Builder
		fmt.Fprintf(&b, "ServerRoot %q\nDefaultRuntimeDir %q\nPidFile %q\nErrorLog %q\nLogLevel warn\n",
			run, run, filepath.Join(run, "httpd.pid"), filepath.Join(run, "error.log"))
		fmt.Fprintf(&b, "Listen %s\nServerName %s\n", addr, addr)
		for _, m := range []string{"mpm_event", "authn_core", "authz_core", "auth_basic", "authn_file", "authz_user", "dav", "dav_fs"} {
			fmt.Fprintf(&b, "LoadModule %s_module %q\n", m, filepath.Join(modules, "mod_"+m+".so"))
		}
		fmt.Fprintf(&b, "DAVLockDB %q\nDocumentRoot %q\n", filepath.Join(run, "davlock"), s.root)
		fmt.Fprintf(&b, "<Directory %q>\n  Dav On\n  AuthType Basic\n  AuthName bench\n  AuthUserFile %q\n  Require valid-user\n</Directory>\n", s.root, users)
		conf := filepath.Join(run, "httpd.conf")
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "-f", conf, "-X")
		cmd.Dir = run
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
		}
		return cmd, nil
	}
	if err := s.start(launch, listening); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			return nil, notAvailable(fmt.Sprintf("cannot start apache2 in a user namespace (needed as root): %v", err))
		}
		return nil, err
	}
	s.url = func(dir string) string {
		u := url.URL{Scheme: "webdav+http", User: url.User(davUser), Host: s.addr(), Path: "/" + s.rel(dir)}
		return u.String()
	}
	return s, nil
}

// lastLines is the end of a log file, for error messages.
func lastLines(path string) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if len(s) > 800 {
		s = "..." + s[len(s)-800:]
	}
	return s
}
