//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"
)

// measurement is one run of one child process.
type measurement struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	rssKiB int64         // peak resident set size (Rusage.Maxrss, KiB on Linux)
}

// invocation is a command with its extra environment; stdout and stderr go
// to files under logDir so that the child never blocks on a pipe we read.
type invocation struct {
	args []string
	env  []string
}

// String is the command line with its environment, secrets left out.
func (in invocation) String() string {
	var b strings.Builder
	for _, e := range in.env {
		if k, v, _ := strings.Cut(e, "="); v != "" && secretName(k) {
			e = k + "=…"
		}
		b.WriteString(e + " ")
	}
	b.WriteString(strings.Join(in.args, " "))
	return b.String()
}

// secretName reports whether an environment variable holds a secret
// (a password, passphrase or secret key), which logs must not show.
func secretName(k string) bool {
	k = strings.ToUpper(k)
	return strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET") || strings.Contains(k, "PASSPHRASE") || strings.Contains(k, "TOKEN")
}

// runResult is what a timed run left behind.
type runResult struct {
	m       measurement
	stdout  string // file names
	stderr  string
	exitErr error
}

func (r runResult) out() []byte {
	b, _ := os.ReadFile(r.stdout)
	return b
}

// tail is the end of the run's stderr (and stdout), for error messages.
func (r runResult) tail() string {
	var parts []string
	for _, f := range []string{r.stderr, r.stdout} {
		b, _ := os.ReadFile(f)
		s := strings.TrimSpace(string(b))
		if len(s) > 1500 {
			s = "..." + s[len(s)-1500:]
		}
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n")
}

// lastLine is the last non-empty line of the run's stderr (or stdout).
func (r runResult) lastLine() string {
	for _, f := range []string{r.stderr, r.stdout} {
		b, _ := os.ReadFile(f)
		s := strings.TrimSpace(string(b))
		if s == "" {
			continue
		}
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		return s
	}
	return ""
}

// timed runs the command once and measures it. Dirty pages are flushed
// before the clock starts (sync(2)), so that no run pays for writeback left
// behind by the untimed preparation or by the previous tool.
// A run still going after timeout is killed and counts as failed.
func timed(in invocation, logDir, label string, timeout time.Duration) runResult {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return runResult{exitErr: err}
	}
	base := filepath.Join(logDir, label)
	res := runResult{stdout: base + ".out", stderr: base + ".err"}
	outF, err := os.Create(res.stdout)
	if err != nil {
		res.exitErr = err
		return res
	}
	defer outF.Close()
	errF, err := os.Create(res.stderr)
	if err != nil {
		res.exitErr = err
		return res
	}
	defer errF.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.args[0], in.args[1:]...)
	cmd.Env = append(os.Environ(), in.env...)
	cmd.Stdout, cmd.Stderr = outF, errF
	syscall.Sync()
	lowerWaterMark()
	start := time.Now()
	err = cmd.Run()
	res.m.wall = time.Since(start)
	res.exitErr = err
	if ctx.Err() != nil {
		res.exitErr = fmt.Errorf("killed after %s: %w", timeout, err)
	}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			res.m.rssKiB = ru.Maxrss
		}
	}
	return res
}

// lowerWaterMark makes the peak RSS the next child reports its own. On
// Linux a child started with vfork+exec (as os/exec does) reports as its
// ru_maxrss at least the high-water mark of the parent's memory at the
// exec: so the harness returns its free memory to the kernel and resets its
// own high-water mark to its current, small, resident size. What remains is
// a floor of the harness's resident size, which the report states (the
// peak RSS of /bin/true started the same way).
func lowerWaterMark() {
	debug.FreeOSMemory()
	// "5" resets the peak RSS of the process (Linux 4.0+); without it the
	// floor is the harness's own peak so far.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// untimed runs a preparation command (cp -a of the dataset, ...).
func untimed(args ...string) error {
	cmd := exec.Command(args[0], args[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// median takes the median of each metric separately.
func median(ms []measurement) measurement {
	if len(ms) == 0 {
		return measurement{}
	}
	w := make([]time.Duration, len(ms))
	c := make([]time.Duration, len(ms))
	r := make([]int64, len(ms))
	for i, m := range ms {
		w[i], c[i], r[i] = m.wall, m.cpu, m.rssKiB
	}
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	sort.Slice(r, func(i, j int) bool { return r[i] < r[j] })
	k := len(ms) / 2
	if len(ms)%2 == 1 {
		return measurement{wall: w[k], cpu: c[k], rssKiB: r[k]}
	}
	return measurement{wall: (w[k-1] + w[k]) / 2, cpu: (c[k-1] + c[k]) / 2, rssKiB: (r[k-1] + r[k]) / 2}
}

func maxRSS(ms []measurement) int64 {
	var m int64
	for _, x := range ms {
		m = max(m, x.rssKiB)
	}
	return m
}
