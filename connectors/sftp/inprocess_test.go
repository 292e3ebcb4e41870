package sftp_test

import (
	"crypto/subtle"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pkgsftp "github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/sftp"
)

// inProcess is pkg/sftp's server behind an x/crypto/ssh server that takes
// one password: for password logins, which the test sshd (without PAM)
// cannot check.
type inProcess struct {
	addr       string
	dir        string
	knownHosts string
}

func startInProcess(t *testing.T, password string) *inProcess {
	t.Helper()
	hostPub, hostPriv := newEd25519(t)
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	conf := &ssh.ServerConfig{
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if subtle.ConstantTimeCompare(pw, []byte(password)) == 1 {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
	}
	conf.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &inProcess{addr: ln.Addr().String(), dir: t.TempDir(), knownHosts: filepath.Join(t.TempDir(), "known_hosts")}
	writeFile(t, s.knownHosts, []byte(knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, hostPub)+"\n"))
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(nc, conf)
		}
	}()
	return s
}

func (s *inProcess) serve(nc net.Conn, conf *ssh.ServerConfig) {
	defer nc.Close()
	_, chans, reqs, err := ssh.NewServerConn(nc, conf)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, reqs, err := nch.Accept()
		if err != nil {
			return
		}
		go func() {
			for req := range reqs {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				req.Reply(ok, nil)
				if ok {
					srv, err := pkgsftp.NewServer(ch, pkgsftp.WithServerWorkingDirectory(s.dir))
					if err == nil {
						srv.Serve()
					}
					ch.Close()
				}
			}
		}()
	}
}

func (s *inProcess) config(sub, password string) sftp.Config {
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	return sftp.Config{
		User: "tester", Host: host, Port: p, Path: sub,
		Password:   password,
		KnownHosts: s.knownHosts, KeepAlive: -1,
	}
}

func TestPasswordLogin(t *testing.T) {
	srv := startInProcess(t, "correct horse")
	t.Setenv("HOME", t.TempDir()) // no default keys
	c := connect(t, srv.config("docs", "correct horse"))
	put(t, c, "f.txt", "by password", time.Time{})
	if got := readFile(t, filepath.Join(srv.dir, "docs/f.txt")); got != "by password" {
		t.Errorf("file holds %q", got)
	}

	_, err := sftp.New(t.Context(), srv.config("docs", "wrong-battery"))
	wantErr(t, "New with a wrong password", err, connectors.Permission, "refused every credential", "password from "+sftp.EnvPassword)
	if err != nil && (strings.Contains(err.Error(), "wrong-battery") || strings.Contains(err.Error(), "correct horse")) {
		t.Errorf("the error shows a password: %v", err)
	}
	_, err = sftp.New(t.Context(), srv.config("docs", ""))
	wantErr(t, "New without credentials", err, connectors.Permission, "none: give key=")
}
