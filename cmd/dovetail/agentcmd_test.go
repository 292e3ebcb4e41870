package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeConfig(t *testing.T, path, dir string, tasks ...string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nagent:\n  state_dir: %s\n  socket: %s\n  web: \"off\"\ntasks:\n", filepath.Join(dir, "state"), filepath.Join(dir, "agent.sock"))
	for _, name := range tasks {
		for _, side := range []string{"L", "R"} {
			os.MkdirAll(filepath.Join(dir, name, side), 0o755)
		}
		fmt.Fprintf(&b, "  - name: %s\n    local: %s\n    remote: %s\n", name, filepath.Join(dir, name, "L"), filepath.Join(dir, name, "R"))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ctl runs a control command against the agent's socket.
func ctl(t *testing.T, sock string, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append(args, "--socket", sock), &out, &errOut)
	return out.String() + errOut.String(), code
}

func TestAgentCommand(t *testing.T) {
	bin, err := dovetailBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dovetail.yaml")
	sock := filepath.Join(dir, "agent.sock")
	writeConfig(t, cfg, dir, "docs")
	os.WriteFile(filepath.Join(dir, "docs", "L", "a.txt"), []byte("a"), 0o644)

	cmd := exec.Command(bin, "agent", "--config", cfg)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\nstdout:\n%s\nstderr:\n%s", what, stdout.String(), stderr.String())
			}
		}
	}
	fileIs := func(p, want string) func() bool {
		return func() bool { d, err := os.ReadFile(p); return err == nil && string(d) == want }
	}
	wait("the first sync", fileIs(filepath.Join(dir, "docs", "R", "a.txt"), "a"))
	wait("status idle", func() bool {
		out, code := ctl(t, sock, "status")
		return code == 0 && strings.Contains(out, "docs: idle")
	})

	// A change while running is synced by the watcher.
	os.WriteFile(filepath.Join(dir, "docs", "R", "b.txt"), []byte("b"), 0o644)
	wait("b.txt synced", fileIs(filepath.Join(dir, "docs", "L", "b.txt"), "b"))

	// Reload with a second task (SIGHUP), then through the API.
	writeConfig(t, cfg, dir, "docs", "photos")
	os.WriteFile(filepath.Join(dir, "photos", "L", "p.jpg"), []byte("p"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	wait("the new task to sync", fileIs(filepath.Join(dir, "photos", "R", "p.jpg"), "p"))
	if out, code := ctl(t, sock, "task", "list"); code != 0 || !strings.Contains(out, "photos") {
		t.Errorf("task list after reload (%d):\n%s", code, out)
	}
	// A broken configuration is refused and the tasks go on.
	os.WriteFile(cfg, []byte("version: 1\ntasks:\n  - name: x\n    directon: up\n"), 0o644)
	if out, code := ctl(t, sock, "reload"); code == 0 || !strings.Contains(out, `unknown key "directon"`) {
		t.Errorf("reload of a broken configuration (%d):\n%s", code, out)
	}
	if out, _ := ctl(t, sock, "task", "list"); !strings.Contains(out, "photos") {
		t.Errorf("tasks gone after a failed reload:\n%s", out)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("agent still running 10s after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM\nstderr:\n%s", code, stderr.String())
	}
	if _, code := ctl(t, sock, "status"); code != exitError {
		t.Errorf("status with no agent: exit %d, want %d", code, exitError)
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeConfig(t, good, dir, "docs")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"config", "validate", good}, &out, &errOut); code != exitOK {
		t.Fatalf("validate good: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "is valid: 1 task") {
		t.Errorf("validate good: %s", out.String())
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\ntasks:\n  - name: docs\n    local: /tmp/x\n    remote: /tmp/y\n    direction: sideways\n    max_delete: 300\n"), 0o644)
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"config", "validate", bad}, &out, &errOut); code != exitUsage {
		t.Fatalf("validate bad: exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"bad.yaml:6", "direction", "bad.yaml:7", "max_delete"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("validate bad: %q missing from:\n%s", want, errOut.String())
		}
	}
}
