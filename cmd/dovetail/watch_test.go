package main

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// watchProc is a running `dovetail sync --watch`.
type watchProc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
}

func startWatch(t *testing.T, tmp string, args ...string) *watchProc {
	t.Helper()
	bin, err := dovetailBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &watchProc{done: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"sync", "--watch"}, args...)...)
	p.cmd.Env = append(os.Environ(), "HOME="+tmp, "XDG_STATE_HOME="+filepath.Join(tmp, "state"))
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// files maps each file under root (outside .dovetail) to its content.
func files(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".dovetail" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[rel] = data
		}
		return nil
	})
	return out
}

func waitUntil(t *testing.T, what string, limit time.Duration, p *watchProc, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s\nstdout:\n%s\nstderr:\n%s", limit, what, p.stdout.String(), p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchKilledMidTransferResumes kills `sync --watch` with SIGKILL
// while it copies large files, restarts it, and checks that both sides end
// equal with nothing lost and no partial file ever visible at a real name;
// then that SIGTERM stops it cleanly within seconds.
func TestWatchKilledMidTransferResumes(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "A"), filepath.Join(tmp, "B")
	os.MkdirAll(b, 0o755)
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string][]byte{}
	for _, name := range []string{"big1.bin", "big2.bin", "big3.bin"} {
		data := make([]byte, 48<<20)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		want[name] = data
	}
	want["small.txt"] = []byte("small")
	for name, data := range want {
		os.MkdirAll(a, 0o755)
		if err := os.WriteFile(filepath.Join(a, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(tmp, "pair.db")
	args := []string{"--state", state, "--workers", "1", a, b}

	p := startWatch(t, tmp, args...)
	waitUntil(t, "a transfer in progress", 30*time.Second, p, func() bool { return len(tempFiles(b)) > 0 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	for rel, data := range files(t, b) {
		if strings.Contains(rel, ".dovetail.tmp.") {
			continue
		}
		if w, ok := want[rel]; !ok || !bytes.Equal(data, w) {
			t.Errorf("after SIGKILL, %s in B is visible with %d bytes that are not the whole file (%d)", rel, len(data), len(w))
		}
	}

	p = startWatch(t, tmp, args...)
	waitUntil(t, "both sides equal after the restart", 60*time.Second, p, func() bool {
		got := files(t, b)
		if len(got) != len(want) {
			return false
		}
		for rel, data := range want {
			if !bytes.Equal(got[rel], data) {
				return false
			}
		}
		return len(tempFiles(a, b)) == 0
	})
	// Still watching: a new file crosses over.
	if err := os.WriteFile(filepath.Join(a, "later.txt"), []byte("later"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "later.txt in B", 20*time.Second, p, func() bool {
		d, err := os.ReadFile(filepath.Join(b, "later.txt"))
		return err == nil && string(d) == "later"
	})
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("SIGTERM: still running after 10s\nstderr:\n%s", p.stderr.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != exitOK {
		t.Errorf("exit code after SIGTERM = %d, want 0\nstdout:\n%s\nstderr:\n%s", code, p.stdout.String(), p.stderr.String())
	}
	t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(p.stdout.String(), "Watching") {
		t.Errorf("no start-up line in the output:\n%s", p.stdout.String())
	}
}
