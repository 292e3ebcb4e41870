//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// agentResult is what the continuous-agent cell measured.
type agentResult struct {
	status string // "" when measured; statusNA or statusError otherwise
	note   string
	files  int
	// ready is the time from start until the marker written before start
	// appeared on the other side (the agent's initial full sync of an
	// already synced tree).
	ready time.Duration
	// lat holds, per trial, the time from a write on one side until the
	// file was complete on the other.
	lat []time.Duration
	// idleCPU is the CPU time the agent used while nothing changed, over
	// idleFor.
	idleCPU, idleFor time.Duration
	// rssKiB is VmRSS after the idle period, hwmKiB VmHWM (peak) then.
	rssKiB, hwmKiB int64
	cycles         int // JSON reports printed (one per sync cycle)
}

const markerName = "bench-agent-ready.txt"

func (b *bench) agentFail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.agent.status, b.agent.note = statusError, msg
	b.failures = append(b.failures, "continuous agent: "+msg)
	logf("FAILED continuous agent: %s", msg)
}

// hasWatch reports whether this dovetail build has "sync --watch".
func (b *bench) hasWatch() bool {
	out, _ := exec.Command(b.cfg.bin, "sync", "--help").CombinedOutput()
	return bytes.Contains(out, []byte("-watch"))
}

// runAgent measures "dovetail sync --watch" on its own synced copy of the
// main dataset: propagation latency of single writes (alternating sides,
// new files and rewrites, no full rescan in between), CPU while idle, and
// resident memory.
func (b *bench) runAgent() {
	b.agent = &agentResult{}
	ds := b.main
	if ds == nil {
		b.agent.status, b.agent.note = statusNA, "the small set was not run (-sets)"
		return
	}
	b.agent.files = ds.files
	if !b.hasWatch() {
		b.agent.status, b.agent.note = statusNA, "dovetail sync --watch not in this build"
		logf("continuous agent: %s", b.agent.note)
		return
	}
	dir := b.cellDir(ds, "agent")
	os.RemoveAll(dir)
	a, bb := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	state := filepath.Join(dir, "state.db")
	env := []string{"XDG_STATE_HOME=" + filepath.Join(dir, "home", "state")}
	if err := os.MkdirAll(bb, 0o755); err != nil {
		b.agentFail("%v", err)
		return
	}
	defer b.cleanup(dir)
	logf("continuous agent: preparing a synced pair of %s files (cp -a and a one-shot sync, not timed)", thousands(ds.files))
	if err := untimed("cp", "-a", ds.root, a); err != nil {
		b.agentFail("%v", err)
		return
	}
	res := b.timed(invocation{args: []string{b.cfg.bin, "sync", "--json", "--state", state, a, bb}, env: env}, "agent-prepare")
	if res.exitErr != nil {
		b.agentFail("preparing sync: %v: %s", res.exitErr, res.tail())
		return
	}
	if err := ds.verify(bb, nil); err != nil {
		b.agentFail("preparing sync: wrong result: %v", err)
		return
	}
	marker := fmt.Appendf(nil, "started %s\n", time.Now().Format(time.RFC3339Nano))
	if err := os.WriteFile(filepath.Join(a, markerName), marker, 0o644); err != nil {
		b.agentFail("%v", err)
		return
	}

	outPath, errPath := filepath.Join(b.logDir(), "agent.out"), filepath.Join(b.logDir(), "agent.err")
	outF, err1 := os.Create(outPath)
	errF, err2 := os.Create(errPath)
	if err := errors.Join(err1, err2); err != nil {
		b.agentFail("%v", err)
		return
	}
	defer outF.Close()
	defer errF.Close()
	cmd := exec.Command(b.cfg.bin, "sync", "--watch", "--json", "--state", state, a, bb)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = outF, errF
	logf("continuous agent: %s", strings.Join(cmd.Args, " "))
	syscall.Sync()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.agentFail("starting: %v", err)
		return
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil && b.agent.status == "" {
				b.agentFail("exit after SIGTERM: %v (log %s): %s", err, errPath, tailOf(errPath))
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			if b.agent.status == "" {
				b.agentFail("did not stop within 30 s of SIGTERM (log %s)", errPath)
			}
		}
	}
	defer stop()
	alive := func() error {
		select {
		case err := <-exited:
			stopped = true
			return fmt.Errorf("the agent exited early (%v; log %s): %s", err, errPath, tailOf(errPath))
		default:
			return nil
		}
	}

	// Ready once the marker written before start is on the other side.
	if err := waitFor(filepath.Join(bb, markerName), marker, b.cfg.agentTimeout, alive); err != nil {
		b.agentFail("not ready: %v", err)
		return
	}
	b.agent.ready = time.Since(start)
	logf("  ready after %s", fmtDur(b.agent.ready))

	// Trials: alternate sides, and new files with rewrites of existing ones.
	sides := [2]string{a, bb}
	for i := 0; i < b.cfg.agentTrials; i++ {
		time.Sleep(b.cfg.agentPause)
		src, dst := sides[i%2], sides[1-i%2]
		k := (i*4099 + 7) % ds.files
		name := ds.rel(k)
		if i%4 >= 2 {
			name = filepath.Join(filepath.Dir(name), fmt.Sprintf("agent-trial-%03d.dat", i))
		}
		r := rand.New(rand.NewPCG(ds.seed^0xa9e7, uint64(i)))
		data := fill(r, nil, 1024+r.IntN(7*1024))
		t0 := time.Now()
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			b.agentFail("trial %d: %v", i, err)
			return
		}
		if err := waitFor(filepath.Join(dst, name), data, b.cfg.trialTimeout, alive); err != nil {
			b.agentFail("trial %d (%s written in %s): %v", i, name, filepath.Base(src), err)
			return
		}
		d := time.Since(t0)
		b.agent.lat = append(b.agent.lat, d)
		logf("  trial %d: %s -> %s %s in %s", i, filepath.Base(src), filepath.Base(dst), name, fmtDur(d))
	}

	// Idle: nothing changes; what CPU does the agent use?
	time.Sleep(2 * time.Second)
	pid := cmd.Process.Pid
	c0, err := procCPU(pid)
	if err != nil {
		b.agentFail("reading /proc/%d/stat: %v", pid, err)
		return
	}
	logf("  idle for %s", b.cfg.idle)
	t0 := time.Now()
	time.Sleep(b.cfg.idle)
	c1, err := procCPU(pid)
	if err != nil {
		b.agentFail("reading /proc/%d/stat: %v", pid, err)
		return
	}
	b.agent.idleCPU, b.agent.idleFor = c1-c0, time.Since(t0)
	if b.agent.rssKiB, b.agent.hwmKiB, err = procMem(pid); err != nil {
		b.agentFail("reading /proc/%d/status: %v", pid, err)
		return
	}
	if err := alive(); err != nil {
		b.agentFail("%v", err)
		return
	}
	stop()
	if b.agent.status != "" {
		return
	}
	if out, err := os.ReadFile(outPath); err == nil {
		b.agent.cycles = bytes.Count(out, []byte("\n"))
	}
	na, _, err1 := countFiles(a)
	nb, _, err2 := countFiles(bb)
	if err := errors.Join(err1, err2); err != nil || na != nb {
		b.agentFail("wrong result: A holds %d files and B %d after the trials (%v)", na, nb, err)
		return
	}
	logf("  latency median %s, p95 %s; idle CPU %s over %s; RSS %s MiB (peak %s MiB)",
		fmtDur(percentile(b.agent.lat, 50)), fmtDur(percentile(b.agent.lat, 95)),
		fmtDur(b.agent.idleCPU), fmtDur(b.agent.idleFor), mib(b.agent.rssKiB), mib(b.agent.hwmKiB))
}

// waitFor polls path until it holds exactly want, alive reports the agent
// gone, or timeout passes. The agent writes through a temporary file and a
// rename, so a partial file is never seen at path; the bytes are compared
// all the same.
func waitFor(path string, want []byte, timeout time.Duration, alive func() error) error {
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		if st, err := os.Stat(path); err == nil && st.Size() == int64(len(want)) {
			if got, err := os.ReadFile(path); err == nil && bytes.Equal(got, want) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not arrive within %s", path, timeout)
		}
		if i%256 == 0 {
			if err := alive(); err != nil {
				return err
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// percentile is the nearest-rank p-th percentile.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// clockTicks is the unit of utime and stime in /proc/PID/stat (USER_HZ).
var clockTicks = func() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}()

// procCPU returns utime+stime of a process (all its threads) so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14, 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected format")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration((ut + st) * int64(time.Second) / clockTicks), nil
}

// procMem returns VmRSS and VmHWM of a process, in KiB.
func procMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(fields[1], 10, 64)
		case "VmHWM:":
			hwm, _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("no VmRSS/VmHWM")
	}
	return rss, hwm, sc.Err()
}

func tailOf(path string) string {
	return runResult{stderr: path}.tail()
}
