package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/agent"
	"github.com/dovetail-sync/dovetail/agent/config"
	"github.com/dovetail-sync/dovetail/connectors/sftp"
	"github.com/dovetail-sync/dovetail/connectors/sftp/sftptest"
	"github.com/dovetail-sync/dovetail/connectors/webdav"
	"github.com/dovetail-sync/dovetail/connectors/webdav/webdavtest"
)

// TestAgentNetworkConnections runs tasks whose remotes are configured
// connections (CONN:path) to real servers, with their secrets in the
// secrets file, as the agent builds them.
func TestAgentNetworkConnections(t *testing.T) {
	// The secrets must come from the secrets file, not the environment.
	t.Setenv(webdav.PasswordEnv, "")
	t.Setenv(sftp.EnvKeyPassphrase, "")
	ssh := sftptest.Start(t)
	dav := webdavtest.Start(t)
	dir := t.TempDir()
	for _, d := range []string{"docs", "web"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.WriteFile(filepath.Join(dir, d, "hello.txt"), []byte("hello "+d), 0o644)
	}
	os.MkdirAll(filepath.Join(dav.Dir(), "site"), 0o755)
	host, port, _ := strings.Cut(ssh.Addr(), ":")
	cfgPath := filepath.Join(dir, "dovetail.yaml")
	cfg := fmt.Sprintf(`version: 1
agent:
  state_dir: %[1]s/state
connections:
  nas:
    type: sftp
    host: %[2]s
    port: %[3]s
    user: %[4]s
    key_file: %[5]s
    known_hosts: %[6]s
  cloud:
    type: webdav
    url: http://%[7]s/
    user: %[8]s
tasks:
  - name: docs
    local: %[1]s/docs
    remote: nas:backup/docs
  - name: web
    local: %[1]s/web
    remote: cloud:site
`, dir, host, port, ssh.User(), ssh.KeyFile(), ssh.KnownHosts(), dav.Addr(), webdavtest.User)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	secrets := fmt.Sprintf("nas:\n  key_passphrase: %q\ncloud:\n  password: %q\n", sftptest.Passphrase, dav.Password())
	os.WriteFile(config.SecretsPath(cfgPath), []byte(secrets), 0o600)

	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := config.NewSecrets(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	specs, release, err := buildSpecs(ctx, c, sec, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a := agent.New(func(context.Context) ([]agent.Spec, func(), error) { return specs, release, nil }, nil, nil)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	want := map[string]string{
		filepath.Join(ssh.Dir(), "backup", "docs", "hello.txt"): "hello docs",
		filepath.Join(dav.Dir(), "site", "hello.txt"):           "hello web",
	}
	for p, content := range want {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if d, err := os.ReadFile(p); err == nil && string(d) == content {
				break
			}
			if time.Now().After(deadline) {
				st, _ := a.Status(ctx)
				t.Fatalf("%s never arrived; status %+v", p, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
