//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// cellKind is one scenario of the table.
type cellKind int

const (
	cellInitial cellKind = iota
	cellNoChange
	cellOneChange
	cellOnePct
	cellRename
	cellDeleteAll
	numCells
)

func (b *bench) cellName(ds *dataset, k cellKind) string {
	switch k {
	case cellInitial:
		return "initial sync into an empty folder"
	case cellNoChange:
		return "no-change resync"
	case cellOneChange:
		return "one file changed"
	case cellOnePct:
		return fmt.Sprintf("1%% of files changed (%s)", thousands(onePct(ds)))
	case cellRename:
		return fmt.Sprintf("folder of %s files renamed", thousands(ds.renameCount))
	case cellDeleteAll:
		return "everything deleted on one side"
	}
	return "?"
}

func onePct(ds *dataset) int { return max(1, ds.files/100) }

const (
	toolCP      = "cp -a"
	toolFind    = "find A B"
	toolRM      = "rm -rf"
	toolDT      = "dovetail"
	toolRclone  = "rclone bisync"
	toolUnison  = "unison"
	statusNA    = "not available"
	statusError = "FAILED"
	// statusRefused is a peer declining a cell by design (not a failure).
	statusRefused = "refused"
)

var peers = []string{toolRclone, toolUnison}

// row is one dataset x cell x tool of the tables.
type row struct {
	set    *dataset
	cell   cellKind
	tool   string
	ref    bool // a physical reference (cp -a, find, rm -rf)
	runs   []measurement
	status string // "" when measured; statusNA or statusError otherwise
	note   string // why not measured, or what the run did ("moved", ...)
}

func (r *row) ok() bool { return r.status == "" && len(r.runs) > 0 }

type bench struct {
	cfg     config
	sets    []*dataset
	main    *dataset // the 100,000-file set: the targets and the agent use it
	machine machineInfo
	rows    []*row
	agent   *agentResult
	// rssFloorKiB is the peak RSS that "true" reports when the harness
	// starts it: what every peak RSS includes at least.
	rssFloorKiB int64
	failures    []string
	versions    map[string]string

	// The network cells (net.go): the main set over SFTP, the memory
	// cells with memSet's one large file, and the servers started.
	netSet         *dataset
	memSet         *dataset
	mem            []*memRow
	servers        map[string]*server // nil: could not start (serverStatus says why)
	serverStatus   map[string][2]string
	serverVersions []string
}

func (b *bench) row(ds *dataset, cell cellKind, tool string) *row {
	for _, r := range b.rows {
		if r.set == ds && r.cell == cell && r.tool == tool {
			return r
		}
	}
	r := &row{set: ds, cell: cell, tool: tool, ref: tool == toolCP || tool == toolFind || tool == toolRM}
	b.rows = append(b.rows, r)
	return r
}

func (b *bench) fail(r *row, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.status, r.note = statusError, msg
	b.failures = append(b.failures, fmt.Sprintf("%s, %s, %s: %s", r.set.name, b.cellName(r.set, r.cell), r.tool, msg))
	logf("FAILED %s / %s / %s: %s", r.set.name, b.cellName(r.set, r.cell), r.tool, msg)
}

// cells lists the cells run on a dataset: all of them on the main set, the
// initial and no-change syncs on the others.
func (b *bench) cells(ds *dataset) []cellKind {
	if ds == b.main {
		return []cellKind{cellInitial, cellNoChange, cellOneChange, cellOnePct, cellRename, cellDeleteAll}
	}
	return []cellKind{cellInitial, cellNoChange}
}

func (b *bench) has(ds *dataset, k cellKind) bool {
	for _, c := range b.cells(ds) {
		if c == k {
			return true
		}
	}
	return false
}

// tool describes how to drive one sync tool on a pair of folders A and B.
type tool struct {
	name string
	slug string
	// first is the initial sync (A full, B empty); again every later one;
	// relaxed a later one with the mass-delete guards off.
	first, again, relaxed func(a, b string) invocation
	version               []string
	// refused, if set, recognises from the end of its output a failed run
	// that is the tool's documented refusal rather than a fault, and says
	// why ("" otherwise).
	refused func(cell cellKind, output string) string
}

func (b *bench) run() {
	b.versions = map[string]string{}
	for _, ds := range b.sets {
		// Rows in table order, so that a skipped tool still shows up.
		for _, c := range b.cells(ds) {
			switch c {
			case cellInitial:
				b.row(ds, c, toolCP)
			case cellNoChange:
				b.row(ds, c, toolFind)
			case cellDeleteAll:
				b.row(ds, c, toolRM)
			}
			b.row(ds, c, toolDT)
			for _, p := range peers {
				b.row(ds, c, p)
			}
		}
	}
	// The floor of every peak RSS below (see lowerWaterMark).
	if res := b.timed(invocation{args: []string{"true"}}, "rss-floor"); res.exitErr == nil {
		b.rssFloorKiB = res.m.rssKiB
	}
	for _, ds := range b.sets {
		logf("== %s: %s", ds.name, ds.title)
		b.referenceCopy(ds)
		b.runTool(ds, b.dovetailTool(ds))
		for _, t := range []tool{b.rcloneTool(ds), b.unisonTool(ds)} {
			switch {
			case b.cfg.noPeers:
				b.markAll(ds, t.name, statusNA, "skipped (-no-peers)")
			case ds.name == "huge" && !b.cfg.hugePeers:
				b.markAll(ds, t.name, statusNA, "skipped at this size (hours); -huge-peers runs it")
			case !installed(t):
				b.markAll(ds, t.name, statusNA, "not installed")
				logf("%s: not installed, cells marked %q", t.name, statusNA)
			default:
				b.runTool(ds, t)
			}
		}
	}
	if b.main != nil {
		b.netSet = netSetFrom(b.main)
	}
	b.runNet()
	if b.cfg.agent {
		b.runAgent()
	}
}

func installed(t tool) bool {
	_, err := exec.LookPath(t.first("", "").args[0])
	return err == nil
}

func (b *bench) markAll(ds *dataset, name, status, note string) {
	for _, c := range b.cells(ds) {
		r := b.row(ds, c, name)
		r.status, r.note = status, note
	}
}

func (b *bench) cellDir(ds *dataset, slug string) string {
	return filepath.Join(b.cfg.work, "cells", ds.name, slug)
}

func (b *bench) cleanup(dir string) {
	if !b.cfg.keep {
		if err := os.RemoveAll(dir); err != nil {
			logf("warning: removing %s: %v", dir, err)
		}
	}
}

func (b *bench) logDir() string { return filepath.Join(b.cfg.work, "logs") }

func (b *bench) timed(in invocation, label string) runResult {
	return timed(in, b.logDir(), label, b.cfg.timeout)
}

// referenceCopy times cp -a of the dataset into a fresh folder, and then
// rm -rf of that copy when the set has a delete-all cell.
func (b *bench) referenceCopy(ds *dataset) {
	r := b.row(ds, cellInitial, toolCP)
	dir := b.cellDir(ds, "cp")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.fail(r, "%v", err)
		return
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "dst")
	logf("%s: %s", b.cellName(ds, cellInitial), toolCP)
	res := b.timed(invocation{args: []string{"cp", "-a", ds.root, dst}}, ds.name+"-cp-initial")
	if res.exitErr != nil {
		b.fail(r, "%v: %s", res.exitErr, res.tail())
		return
	}
	if err := ds.verify(dst, nil); err != nil {
		b.fail(r, "wrong result: %v", err)
		return
	}
	r.runs = append(r.runs, res.m)
	logf("  %s", fmtM(res.m))
	if !b.has(ds, cellDeleteAll) {
		return
	}
	r = b.row(ds, cellDeleteAll, toolRM)
	logf("%s: %s", b.cellName(ds, cellDeleteAll), toolRM)
	res = b.timed(invocation{args: []string{"rm", "-rf", dst}}, ds.name+"-rm-deleteall")
	if res.exitErr != nil {
		b.fail(r, "%v: %s", res.exitErr, res.tail())
		return
	}
	r.runs = append(r.runs, res.m)
	logf("  %s", fmtM(res.m))
}

// pair is one tool's copy of a dataset: A (the source side) and B.
type pair struct {
	ds   *dataset
	t    tool
	a, b string
}

func (p *pair) label(cell string, i int) string {
	return fmt.Sprintf("%s-%s-%s-%d", p.ds.name, p.t.slug, cell, i)
}

// runTool runs every cell of the dataset for one tool on its own copy.
func (b *bench) runTool(ds *dataset, t tool) {
	if len(t.version) > 0 {
		if out, err := exec.Command(t.version[0], t.version[1:]...).CombinedOutput(); err == nil {
			line, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
			b.versions[t.name] = string(line)
		}
	}
	dir := b.cellDir(ds, t.slug)
	first := b.row(ds, cellInitial, t.name)
	if err := os.RemoveAll(dir); err != nil {
		b.fail(first, "%v", err)
		return
	}
	p := &pair{ds: ds, t: t, a: filepath.Join(dir, "A"), b: filepath.Join(dir, "B")}
	for _, d := range []string{dir, p.b, filepath.Join(dir, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.fail(first, "%v", err)
			return
		}
	}
	logf("%s: preparing its copy of %s (cp -a, not timed)", t.name, ds.name)
	if err := untimed("cp", "-a", ds.root, p.a); err != nil {
		b.fail(first, "%v", err)
		return
	}
	defer b.cleanup(dir)

	steps := map[cellKind]func(*pair) bool{
		cellInitial:   b.initial,
		cellNoChange:  b.noChange,
		cellOneChange: b.oneChange,
		cellOnePct:    b.onePctChange,
		cellRename:    b.rename,
		cellDeleteAll: b.deleteAll,
	}
	for _, c := range b.cells(ds) {
		if !steps[c](p) {
			b.skipAfter(ds, c, t.name)
			return
		}
	}
}

// skipAfter marks the cells after a failed one as not run: the pair's state
// is unknown.
func (b *bench) skipAfter(ds *dataset, failed cellKind, name string) {
	for _, c := range b.cells(ds) {
		if c <= failed {
			continue
		}
		r := b.row(ds, c, name)
		if r.status == "" && len(r.runs) == 0 {
			r.status, r.note = statusError, "not run: an earlier cell failed"
		}
	}
	if failed <= cellNoChange && name == toolDT {
		if f := b.row(ds, cellNoChange, toolFind); len(f.runs) == 0 {
			f.status, f.note = statusNA, "not run: dovetail failed first"
		}
	}
}

// once runs inv, records it in r and checks Dovetail's report; false means
// the run failed (and was recorded as such).
func (b *bench) once(p *pair, r *row, inv invocation, label string, want summaryWant) bool {
	res := b.timed(inv, label)
	if res.exitErr != nil {
		last := res.lastLine()
		if p.t.refused != nil {
			if why := p.t.refused(r.cell, res.tail()); why != "" {
				r.status, r.note = statusRefused, why
				logf("  %s: %s", statusRefused, why)
				return false
			}
		}
		b.fail(r, "%v (log %s): %s", res.exitErr, res.stderr, last)
		return false
	}
	r.runs = append(r.runs, res.m)
	logf("  %s", fmtM(res.m))
	if p.t.name == toolDT {
		if err := want.check(res.out()); err != nil {
			b.fail(r, "%v", err)
			return false
		}
	}
	return true
}

func (b *bench) initial(p *pair) bool {
	r := b.row(p.ds, cellInitial, p.t.name)
	inv := p.t.first(p.a, p.b)
	logf("%s: %s (%s)", b.cellName(p.ds, cellInitial), p.t.name, inv)
	want := summaryWant{exact: map[string]int64{"uploaded": int64(p.ds.files), "folders_created": int64(p.ds.folders)}}
	if !b.once(p, r, inv, p.label("initial", 0), want) {
		return false
	}
	if err := p.ds.verify(p.b, nil); err != nil {
		b.fail(r, "wrong result after the initial sync: %v", err)
		return false
	}
	if err := p.ds.verify(p.a, nil); err != nil {
		b.fail(r, "the initial sync changed its source: %v", err)
		return false
	}
	return true
}

// noChange repeats the sync with nothing changed. For Dovetail, find of both
// trees is timed in the same loop, interleaved, so that both see the same
// machine state.
func (b *bench) noChange(p *pair) bool {
	r := b.row(p.ds, cellNoChange, p.t.name)
	var fr *row
	if p.t.name == toolDT {
		fr = b.row(p.ds, cellNoChange, toolFind)
	}
	inv := p.t.again(p.a, p.b)
	logf("%s: %s x%d (%s)", b.cellName(p.ds, cellNoChange), p.t.name, b.cfg.reps, inv)
	for i := 0; i < b.cfg.reps && b.more(r); i++ {
		if fr != nil && fr.status == "" {
			fres := b.timed(invocation{args: []string{"find", p.a, p.b, "-printf", ""}}, p.ds.name+fmt.Sprintf("-find-nochange-%d", i))
			if fres.exitErr != nil {
				b.fail(fr, "%v: %s", fres.exitErr, fres.tail())
			} else {
				fr.runs = append(fr.runs, fres.m)
				logf("  find: %s", fmtM(fres.m))
			}
		}
		if !b.once(p, r, inv, p.label("nochange", i), summaryWant{}) {
			return false
		}
	}
	return true
}

// oneChange rewrites one file in A before each run, a different one each
// time, and checks that it reached B.
func (b *bench) oneChange(p *pair) bool {
	r := b.row(p.ds, cellOneChange, p.t.name)
	logf("%s: %s x%d", b.cellName(p.ds, cellOneChange), p.t.name, b.cfg.reps)
	for i := 0; i < b.cfg.reps && b.more(r); i++ {
		k := (i*7919 + 17) % p.ds.files
		if !b.changed(p, r, []int{k}, i, "onechange") {
			return false
		}
	}
	return true
}

// onePctChange rewrites 1% of the files (spread over the tree, a different
// set each time) before each run.
func (b *bench) onePctChange(p *pair) bool {
	r := b.row(p.ds, cellOnePct, p.t.name)
	n := onePct(p.ds)
	logf("%s: %s x%d", b.cellName(p.ds, cellOnePct), p.t.name, b.cfg.reps)
	for i := 0; i < b.cfg.reps && b.more(r); i++ {
		ks := make([]int, n)
		off := (i*7331 + 101) % p.ds.files
		stride := p.ds.files / n
		for j := range ks {
			ks[j] = (j*stride + off) % p.ds.files
		}
		if !b.changed(p, r, ks, 100+i, "onepct") {
			return false
		}
	}
	return true
}

// changed modifies files ks in A, runs one sync and checks that every one
// of them reached B.
func (b *bench) changed(p *pair, r *row, ks []int, rep int, cell string) bool {
	wants := make([][]byte, len(ks))
	for j, k := range ks {
		w, err := b.modify(p, k, rep)
		if err != nil {
			b.fail(r, "modifying a file: %v", err)
			return false
		}
		wants[j] = w
	}
	want := summaryWant{exact: map[string]int64{"uploaded": int64(len(ks))}}
	if !b.once(p, r, p.t.again(p.a, p.b), p.label(cell, rep), want) {
		return false
	}
	for j, k := range ks {
		got, err := os.ReadFile(filepath.Join(p.b, p.ds.rel(k)))
		if err != nil || !bytes.Equal(got, wants[j]) {
			b.fail(r, "wrong result: the changed file %s did not reach B (%v)", p.ds.rel(k), err)
			return false
		}
	}
	return true
}

// modify rewrites file k of A with new contents of a different size and a
// current mtime, and returns the new contents.
func (b *bench) modify(p *pair, k, rep int) ([]byte, error) {
	path := filepath.Join(p.a, p.ds.rel(k))
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	n := int(st.Size()) + 1
	if n > 8*1024 {
		n -= 2
	}
	r := rand.New(rand.NewPCG(p.ds.seed^0x5eed, uint64(k)<<10|uint64(rep)))
	buf := fill(r, nil, n)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return nil, err
	}
	now := time.Now()
	return buf, os.Chtimes(path, now, now)
}

// rename renames the set's big folder in A before each run and checks that
// B holds the same files under the new name. Whether the tool moved the
// files in B or copied them anew shows in their inode numbers, which a
// rename keeps.
func (b *bench) rename(p *pair) bool {
	r := b.row(p.ds, cellRename, p.t.name)
	logf("%s: %s x%d", b.cellName(p.ds, cellRename), p.t.name, b.cfg.reps)
	cur := p.ds.renameDir
	kept, total := 0, 0
	leftover := false
	for i := 0; i < b.cfg.reps && b.more(r); i++ {
		next := fmt.Sprintf("%s-renamed-%d", p.ds.renameDir, i+1)
		before, err := inodes(filepath.Join(p.b, cur))
		if err != nil {
			b.fail(r, "listing B before the rename: %v", err)
			return false
		}
		if len(before) != p.ds.renameCount {
			b.fail(r, "B/%s holds %d files before the rename, want %d", cur, len(before), p.ds.renameCount)
			return false
		}
		if err := os.Rename(filepath.Join(p.a, cur), filepath.Join(p.a, next)); err != nil {
			b.fail(r, "renaming in A: %v", err)
			return false
		}
		want := summaryWant{atLeast: map[string]int64{"moved_remote": 1}}
		if !b.once(p, r, p.t.again(p.a, p.b), p.label("rename", i), want) {
			return false
		}
		if _, err := os.Lstat(filepath.Join(p.b, cur)); err == nil {
			if n, others, err := countFiles(filepath.Join(p.b, cur)); err != nil || n+others > 0 {
				b.fail(r, "wrong result: B/%s still holds %d files after it was renamed to %s in A (%v)", cur, n+others, next, err)
				return false
			}
			leftover = true
		}
		after, err := inodes(filepath.Join(p.b, next))
		if err != nil || len(after) != len(before) {
			b.fail(r, "wrong result: B/%s holds %d files, want %d (%v)", next, len(after), len(before), err)
			return false
		}
		if n, _, err := countFiles(p.b); err != nil || n != p.ds.files {
			b.fail(r, "wrong result: B holds %d files after the rename, want %d (%v)", n, p.ds.files, err)
			return false
		}
		for name, ino := range before {
			total++
			if after[name] == ino {
				kept++
			}
		}
		cur = next
	}
	switch {
	case total == 0:
	case kept == total:
		r.note = noteMoved
	case len(r.runs) > 1:
		r.note = fmt.Sprintf("re-copied %s of %s files in B (over %d runs)", thousands(total-kept), thousands(total), len(r.runs))
	default:
		r.note = fmt.Sprintf("re-copied %s of %s files in B", thousands(total-kept), thousands(total))
	}
	if leftover {
		r.note += "; left the old folder behind in B (empty)"
	}
	return true
}

// noteMoved is the rename cell's note when every file kept its inode.
const noteMoved = "moved in B"

// inodes maps the names of the regular files in dir to their inode numbers.
func inodes(dir string) (map[string]uint64, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := make(map[string]uint64, len(es))
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			m[e.Name()] = st.Ino
		}
	}
	return m, nil
}

// deleteAll empties A (keeping tool state) and runs the sync once with the
// mass-delete guards relaxed: B must end up without any file.
func (b *bench) deleteAll(p *pair) bool {
	r := b.row(p.ds, cellDeleteAll, p.t.name)
	es, err := os.ReadDir(p.a)
	if err != nil {
		b.fail(r, "%v", err)
		return false
	}
	for _, e := range es {
		if isToolState(e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(p.a, e.Name())); err != nil {
			b.fail(r, "emptying A: %v", err)
			return false
		}
	}
	inv := p.t.relaxed(p.a, p.b)
	logf("%s: %s (%s)", b.cellName(p.ds, cellDeleteAll), p.t.name, inv)
	want := summaryWant{atLeast: map[string]int64{"deleted_remote": int64(p.ds.files)}}
	if !b.once(p, r, inv, p.label("deleteall", 0), want) {
		return false
	}
	n, others, err := countFiles(p.b)
	if err != nil || n+others > 0 {
		b.fail(r, "wrong result: B still holds %d files and %d other entries (%v)", n, others, err)
		return false
	}
	folders := 0
	if es, err := os.ReadDir(p.b); err == nil {
		for _, e := range es {
			if !isToolState(e.Name()) {
				folders++
			}
		}
	}
	if folders > 0 {
		r.note = fmt.Sprintf("left %d empty top-level folders in B", folders)
	}
	return true
}

// more says whether a repeated cell gets another run: always the first,
// then until -reps runs or until the runs so far took longer than -budget
// (a peer that needs a minute per no-change run gets fewer repetitions).
func (b *bench) more(r *row) bool {
	var spent time.Duration
	for _, m := range r.runs {
		spent += m.wall
	}
	return len(r.runs) == 0 || spent < b.cfg.budget
}

// summaryWant is what Dovetail's --json summary must say: exact counts
// (absent keys must be 0) and lower bounds.
type summaryWant struct {
	exact, atLeast map[string]int64
}

// dovetailReport is the part of "dovetail sync --json" the harness reads.
type dovetailReport struct {
	InSync  bool             `json:"in_sync"`
	Error   string           `json:"error"`
	Summary map[string]int64 `json:"summary"`
}

func (w summaryWant) check(out []byte) error {
	var rep dovetailReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return fmt.Errorf("dovetail --json output: %v", err)
	}
	if !rep.InSync || rep.Error != "" {
		return fmt.Errorf("dovetail reports in_sync=%v error=%q", rep.InSync, rep.Error)
	}
	for k, v := range rep.Summary {
		if k == "bytes" {
			continue
		}
		if min, ok := w.atLeast[k]; ok {
			if v < min {
				return fmt.Errorf("dovetail summary %s = %d, want at least %d (summary %v)", k, v, min, rep.Summary)
			}
			continue
		}
		if v != w.exact[k] {
			return fmt.Errorf("dovetail summary %s = %d, want %d (summary %v)", k, v, w.exact[k], rep.Summary)
		}
	}
	return nil
}

func (b *bench) dovetailTool(ds *dataset) tool {
	dir := b.cellDir(ds, "dovetail")
	state := filepath.Join(dir, "state.db")
	env := []string{"XDG_STATE_HOME=" + filepath.Join(dir, "home", "state")}
	inv := func(extra ...string) func(a, bb string) invocation {
		return func(a, bb string) invocation {
			args := append([]string{b.cfg.bin, "sync", "--json", "--state", state}, extra...)
			return invocation{args: append(args, a, bb), env: env}
		}
	}
	return tool{
		name:    toolDT,
		slug:    "dovetail",
		first:   inv(),
		again:   inv(),
		relaxed: inv("--force", "--max-delete", "100"),
		version: []string{b.cfg.bin, "version"},
	}
}

func (b *bench) rcloneTool(ds *dataset) tool {
	dir := b.cellDir(ds, "rclone")
	home := filepath.Join(dir, "home")
	env := []string{"RCLONE_CONFIG=/dev/null", "HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	work := filepath.Join(dir, "bisync-workdir")
	inv := func(extra ...string) func(a, bb string) invocation {
		return func(a, bb string) invocation {
			args := append([]string{"rclone", "bisync", a, bb, "--workdir", work}, extra...)
			return invocation{args: args, env: env}
		}
	}
	return tool{
		name:  toolRclone,
		slug:  "rclone",
		first: inv("--resync"),
		// Without --remove-empty-dirs a renamed or deleted folder stays
		// behind, empty.
		again: inv("--remove-empty-dirs"),
		// --force lifts bisync's own 50% delete check; --max-delete
		// (rclone's global limit) is unlimited by default.
		relaxed: inv("--remove-empty-dirs", "--force"),
		version: []string{"rclone", "version"},
		refused: func(cell cellKind, output string) string {
			if cell == cellDeleteAll && strings.Contains(output, "empty current Path1 listing") {
				return "refuses to sync an empty Path1, even with --force"
			}
			return ""
		},
	}
}

func (b *bench) unisonTool(ds *dataset) tool {
	dir := b.cellDir(ds, "unison")
	home := filepath.Join(dir, "home")
	env := []string{"UNISON=" + filepath.Join(home, ".unison"), "HOME=" + home}
	inv := func(extra ...string) func(a, bb string) invocation {
		return func(a, bb string) invocation {
			args := append([]string{"unison", a, bb, "-batch", "-auto", "-times", "-silent", "-logfile", filepath.Join(home, "unison.log")}, extra...)
			return invocation{args: args, env: env}
		}
	}
	return tool{
		name:  toolUnison,
		slug:  "unison",
		first: inv(),
		again: inv(),
		// A replica emptied as a whole is refused in batch mode unless
		// confirmbigdel is off.
		relaxed: inv("-confirmbigdel=false"),
		version: []string{"unison", "-version"},
	}
}

func fmtM(m measurement) string {
	return fmt.Sprintf("wall %s, cpu %s, peak RSS %.1f MiB", fmtDur(m.wall), fmtDur(m.cpu), float64(m.rssKiB)/1024)
}

func fmtDur(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f s", s)
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.0f ms", s*1000)
	}
}
