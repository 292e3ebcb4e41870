//go:build linux

// Command benchrun is Dovetail's benchmark harness. It generates
// reproducible datasets (100,000 small files, 10 large files, a tree 30
// levels deep, optionally 1,000,000 files), runs "dovetail sync" and its
// peers (rclone bisync, unison) as child processes on their own copies of
// each, with cp -a, find and rm -rf as the physical references, measures
// wall time, user+system CPU and peak RSS of each run, measures the
// continuous agent (dovetail sync --watch: propagation latency, idle CPU,
// memory), and writes tables into docs/benchmarks.md between the markers
// <!-- bench:begin --> and <!-- bench:end -->.
//
// It reports and does not gate: a missed target still exits 0. It exits
// non-zero only when a tool crashed or produced a wrong result (a
// destination that does not match the source).
//
// Run it through "make bench" (bench/run.sh); see docs/benchmarks.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

type config struct {
	work      string
	bin       string
	doc       string
	files     int
	dirs      int
	sets      string
	largeN    int
	largeMiB  int
	huge      bool
	hugeFiles int
	hugePeers bool
	reps      int
	budget    time.Duration
	timeout   time.Duration
	seed      uint64
	keep      bool
	noPeers   bool
	noNet     bool
	netMiB    int
	rerun     string
	writeDocs bool

	agent        bool
	agentTrials  int
	agentPause   time.Duration
	agentTimeout time.Duration
	trialTimeout time.Duration
	idle         time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.work, "work", filepath.Join(os.TempDir(), "dovetail-bench"), "work `DIR` for datasets and copies (deleted and recreated per tool)")
	flag.StringVar(&c.bin, "bin", "bin/dovetail", "dovetail binary to benchmark")
	flag.StringVar(&c.doc, "doc", "docs/benchmarks.md", "markdown `FILE` to write the results into (between the bench markers)")
	flag.IntVar(&c.files, "files", 100000, "number of files in the small-file set")
	flag.IntVar(&c.dirs, "dirs", 0, "number of folders of the small-file set (default: files/100, at least 1)")
	flag.StringVar(&c.sets, "sets", "small,large,deep", "datasets to run, comma-separated: small (all cells and the agent), large, deep, huge")
	flag.IntVar(&c.largeN, "large-files", 10, "number of files in the large-file set")
	flag.IntVar(&c.largeMiB, "large-mib", 100, "size of each file of the large-file set, in MiB")
	flag.BoolVar(&c.huge, "huge", os.Getenv("BENCH_HUGE") == "1", "also run the huge set (-huge-files files; default from BENCH_HUGE=1)")
	flag.IntVar(&c.hugeFiles, "huge-files", 1000000, "number of files in the huge set")
	flag.BoolVar(&c.hugePeers, "huge-peers", false, "run rclone and unison on the huge set too (hours)")
	flag.IntVar(&c.reps, "reps", 5, "repetitions of the repeated cells (median is reported)")
	flag.DurationVar(&c.budget, "budget", 60*time.Second, "stop repeating a cell once its runs took this long (at least one run)")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "kill a timed run after this long (counts as failed)")
	flag.Uint64Var(&c.seed, "seed", 1, "PRNG seed of the datasets")
	flag.BoolVar(&c.keep, "keep", false, "keep each tool's copies after its cells (needs several times the datasets on disk)")
	flag.BoolVar(&c.noPeers, "no-peers", false, "skip rclone and unison")
	flag.BoolVar(&c.noNet, "no-net", false, "skip the network cells (the small set over SFTP; one large file through sshd, versitygw and Apache)")
	flag.IntVar(&c.netMiB, "net-mib", 1024, "size of the file of the network memory cells, in MiB")
	flag.StringVar(&c.rerun, "rerun", "make bench", "command printed in the report as the way to rerun")
	flag.BoolVar(&c.writeDocs, "write-doc", true, "write the results into -doc")
	flag.BoolVar(&c.agent, "agent", true, "measure the continuous agent (dovetail sync --watch) on the small set")
	flag.IntVar(&c.agentTrials, "agent-trials", 20, "writes whose propagation the agent cell times")
	flag.DurationVar(&c.agentPause, "agent-pause", 500*time.Millisecond, "pause before each agent trial (lets the previous cycle finish)")
	flag.DurationVar(&c.agentTimeout, "agent-timeout", 15*time.Minute, "how long the agent may take to become ready")
	flag.DurationVar(&c.trialTimeout, "trial-timeout", 30*time.Second, "how long one agent trial may take (counts as failed)")
	flag.DurationVar(&c.idle, "idle", 60*time.Second, "how long the agent's idle CPU is measured")
	flag.Parse()
	if c.files < 1 || c.largeN < 1 || c.largeMiB < 1 || c.hugeFiles < 1 || c.netMiB < 1 {
		fatalf("-files, -large-files, -large-mib, -huge-files and -net-mib must be at least 1")
	}
	if c.dirs <= 0 {
		c.dirs = max(1, c.files/100)
	}
	c.dirs = min(c.dirs, c.files)
	c.reps = max(c.reps, 1)
	c.agentTrials = max(c.agentTrials, 1)
	bin, err := filepath.Abs(c.bin)
	if err != nil {
		fatalf("%v", err)
	}
	c.bin = bin
	if st, err := os.Stat(c.bin); err != nil || st.IsDir() {
		fatalf("dovetail binary %s not found: run make build first", c.bin)
	}
	if c.work, err = filepath.Abs(c.work); err != nil {
		fatalf("%v", err)
	}
	if err := os.MkdirAll(c.work, 0o755); err != nil {
		fatalf("%v", err)
	}

	start := time.Now()
	b := &bench{cfg: c}
	names := strings.Split(c.sets, ",")
	if c.huge && !slices.Contains(names, "huge") {
		names = append(names, "huge")
	}
	for _, name := range names {
		var ds dataset
		switch strings.TrimSpace(name) {
		case "small":
			ds = smallSet("small", c.files, c.dirs, c.seed)
		case "large":
			ds = largeSet("large", c.largeN, c.largeMiB, c.seed)
		case "deep":
			ds = deepSet(max(1, min(10, c.files/10000)), c.seed)
		case "huge":
			ds = smallSet("huge", c.hugeFiles, max(1, c.hugeFiles/100), c.seed)
		case "":
			continue
		default:
			fatalf("unknown dataset %q in -sets (want small, large, deep, huge)", name)
		}
		b.sets = append(b.sets, &ds)
		if ds.name == "small" {
			b.main = &ds
		}
	}
	mem := largeSet("net-mem", 1, c.netMiB, c.seed)
	b.memSet = &mem
	ensure := b.sets
	if !c.noNet {
		ensure = append(ensure, b.memSet)
	}
	for _, ds := range ensure {
		logf("dataset %s: %s (seed %d)", ds.name, ds.title, ds.seed)
		t0 := time.Now()
		reused, err := ds.ensure(c.work)
		if err != nil {
			fatalf("generating dataset %s: %v", ds.name, err)
		}
		if reused {
			logf("dataset %s: reused %s in %s", ds.name, humanBytes(ds.bytes), ds.root)
		} else {
			logf("dataset %s: generated %s in %.1fs", ds.name, humanBytes(ds.bytes), time.Since(t0).Seconds())
		}
	}
	b.machine = describeMachine(c)
	b.run()

	report := b.report()
	fmt.Println()
	fmt.Println(report)
	if c.writeDocs {
		if err := writeDoc(c.doc, report); err != nil {
			fatalf("writing %s: %v", c.doc, err)
		}
		logf("results written to %s", c.doc)
	}
	logf("total %s", time.Since(start).Round(time.Second))
	if len(b.failures) > 0 {
		fmt.Fprintln(os.Stderr)
		for _, f := range b.failures {
			fmt.Fprintf(os.Stderr, "benchrun: FAILED: %s\n", f)
		}
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchrun: "+format+"\n", args...)
	os.Exit(2)
}
