//go:build linux

package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Targets from the performance issue (100,000 files unless said).
const (
	targetInitial   = 2.5  // initial sync <= 2.5x cp -a
	targetResync    = 3.0  // no-change and one-change resync <= 3x find of both trees
	targetRenameSec = 1.0  // folder of 10,000 files renamed: a move in < 1 s
	targetLatency   = 1.0  // agent: median write-to-other-side <= 1 s
	targetIdleCPU   = 0.01 // agent idle: < 1% of one CPU
	targetRSSMiB    = 100  // < 100 MiB RSS at 100,000 files
	targetHugeMiB   = 400  // < 400 MiB RSS at 1,000,000 files
)

type machineInfo struct {
	cpus    int
	cpu     string
	mem     string
	kernel  string
	goVer   string
	fs      string
	version string
}

func describeMachine(c config) machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), goVer: runtime.Version(), cpu: "unknown CPU", mem: "unknown memory", kernel: "unknown kernel"}
	if out, err := exec.Command("nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.cpus = n
		}
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(fields[1], 64); err == nil {
					m.mem = fmt.Sprintf("%.1f GiB RAM", kb/1024/1024)
				}
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if bi, err := buildinfo.ReadFile(c.bin); err == nil {
		m.goVer = bi.GoVersion
	}
	if out, err := exec.Command(c.bin, "version").Output(); err == nil {
		m.version = strings.TrimSpace(string(out))
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.work, &st); err == nil {
		m.fs = fsName(st.Type)
	}
	return m
}

func fsName(t int64) string {
	switch uint32(t) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794C7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	case 0x6969:
		return "nfs"
	}
	return fmt.Sprintf("fs 0x%x", t)
}

func (b *bench) med(ds *dataset, cell cellKind, tool string) (measurement, bool) {
	for _, r := range b.rows {
		if r.set == ds && r.cell == cell && r.tool == tool && r.ok() {
			return median(r.runs), true
		}
	}
	return measurement{}, false
}

// reference is the physical floor a cell is compared with: cp -a for the
// initial copy, rm -rf of a copy for delete-all, and find of both trees for
// the resyncs (which must at least walk both trees).
func (b *bench) reference(ds *dataset, cell cellKind) (measurement, string, bool) {
	switch cell {
	case cellInitial:
		if ds.base != nil {
			ds = ds.base
		}
		m, ok := b.med(ds, cellInitial, toolCP)
		return m, toolCP, ok
	case cellDeleteAll:
		m, ok := b.med(ds, cellDeleteAll, toolRM)
		return m, toolRM, ok
	}
	m, ok := b.med(ds, cellNoChange, toolFind)
	return m, "find", ok
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a.Seconds()/b.Seconds())
}

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

// report renders the generated part of docs/benchmarks.md.
func (b *bench) report() string {
	var w bytes.Buffer
	m := b.machine
	fmt.Fprintf(&w, "Generated %s by `%s`", time.Now().UTC().Format("2006-01-02 15:04 MST"), b.rerunCmd())
	fmt.Fprintf(&w, " (harness: `bench/run.sh` → `bench/benchrun`).\n\n")
	fmt.Fprintf(&w, "- **Machine:** %d CPUs (%s), %s, %s, work dir on %s\n", m.cpus, m.cpu, m.mem, m.kernel, m.fs)
	tools := orDash(m.version)
	if !strings.HasPrefix(tools, "dovetail") {
		tools = "dovetail " + tools
	}
	tools += " built with " + m.goVer
	for _, p := range peers {
		if v, ok := b.versions[p]; ok {
			tools += "; " + v
		}
	}
	fmt.Fprintf(&w, "- **Tools:** %s\n", tools)
	if len(b.serverVersions) > 0 {
		fmt.Fprintf(&w, "- **Servers** (network cells, on 127.0.0.1, serving the same disk): %s\n", strings.Join(b.serverVersions, "; "))
	}
	fmt.Fprintf(&w, "- **Peak RSS** is the child's `ru_maxrss`, which on Linux includes the harness's own resident size at the moment it starts the child: `true` shows %s MiB, the floor of every number below\n", mib(b.rssFloorKiB))
	fmt.Fprintf(&w, "- **Runs:** initial sync and delete-all once; the other cells %d× each, or fewer once a cell's runs passed %s (n shown; medians reported); each tool on its own `cp -a` copy of each dataset; page cache warm, `sync` before each timed run\n", b.cfg.reps, b.cfg.budget)

	for _, ds := range b.sets {
		b.setTable(&w, ds)
	}
	if b.netSet != nil {
		b.setTable(&w, b.netSet)
	}
	if b.memSet != nil {
		b.memTable(&w)
	}
	if b.agent != nil {
		fmt.Fprintf(&w, "\n#### Continuous agent (`dovetail sync --watch`), %s files watched\n\n", thousands(b.agent.files))
		b.agentTable(&w)
	}

	fmt.Fprintf(&w, "\n**Targets** (dovetail):\n\n")
	for _, t := range b.targets() {
		fmt.Fprintf(&w, "- %s\n", t)
	}
	if len(b.failures) > 0 {
		fmt.Fprintf(&w, "\n**This run FAILED:**\n\n")
		for _, f := range b.failures {
			fmt.Fprintf(&w, "- %s\n", firstLine(f))
		}
	}
	return strings.TrimRight(w.String(), "\n")
}

// setTable renders the table of one dataset, with a "wall ÷ peer" column
// for each peer that has rows in it.
func (b *bench) setTable(w *bytes.Buffer, ds *dataset) {
	var ps []string
	for _, p := range peers {
		if slices.ContainsFunc(b.rows, func(r *row) bool { return r.set == ds && r.tool == p }) {
			ps = append(ps, p)
		}
	}
	header := []string{"cell", "tool", "wall", "CPU (user+sys)", "peak RSS MiB", "wall ÷ reference", "CPU ÷ reference"}
	for _, p := range ps {
		header = append(header, "wall ÷ "+p)
	}
	header = append(header, "notes")
	fmt.Fprintf(w, "\n#### %s\n\n", ds.title)
	fmt.Fprintf(w, "%s files, %s, %s folders, seed %d.", thousands(ds.files), humanBytes(ds.bytes), thousands(ds.folders), ds.seed)
	if ds.base != nil {
		fmt.Fprintf(w, " Each tool into its own empty remote folder; the results are checked in the files sshd wrote. The reference of the initial sync is the local `cp -a` of the same files.")
	}
	fmt.Fprintf(w, "\n\n")
	var table [][]string
	for _, c := range b.cells(ds) {
		table = append(table, b.cellLines(ds, c, ps)...)
	}
	writeTable(w, header, table)
}

// memTable renders the memory cells: one large file up and down through
// each server.
func (b *bench) memTable(w *bytes.Buffer) {
	ds := b.memSet
	fmt.Fprintf(w, "\n#### Memory: %s uploaded into an empty remote folder, then downloaded into an empty local one\n\n", ds.title)
	fmt.Fprintf(w, "`dovetail sync --json --state S A URL`, then `dovetail sync --json --state S2 B URL` with B empty and a new state file; the file is compared byte for byte where the server stored it and in B.\n\n")
	var rows [][]string
	for _, r := range b.mem {
		line := []string{r.conn, r.direction}
		if !r.ok() {
			rows = append(rows, append(line, orDash(r.status), "", "", "", "", firstLine(r.note)))
			continue
		}
		rate := float64(ds.bytes) / (1 << 20) / r.m.wall.Seconds()
		under := float64(r.m.rssKiB)/1024 < targetRSSMiB
		rows = append(rows, append(line, fmtDur(r.m.wall), fmt.Sprintf("%.0f MiB/s", rate), fmtDur(r.m.cpu), mib(r.m.rssKiB), verdict(under), firstLine(r.note)))
	}
	writeTable(w, []string{"connector", "direction", "wall", "throughput", "CPU (user+sys)", "peak RSS MiB", fmt.Sprintf("< %d MiB", targetRSSMiB), "notes"}, rows)
}

// cellLines renders the rows of one cell of a dataset's table, with a
// ratio column for each of peers.
func (b *bench) cellLines(ds *dataset, c cellKind, peers []string) [][]string {
	ref, refName, refOK := b.reference(ds, c)
	var out [][]string
	for _, r := range b.rows {
		if r.set != ds || r.cell != c {
			continue
		}
		name := r.tool
		if r.ref {
			name += " (reference)"
		}
		line := []string{b.cellName(ds, c), name}
		if !r.ok() {
			line = append(line, r.status, "", "", "", "")
			for range peers {
				line = append(line, "")
			}
			out = append(out, append(line, firstLine(r.note)))
			continue
		}
		md := median(r.runs)
		wall := fmtDur(md.wall)
		if len(r.runs) > 1 || (c != cellInitial && c != cellDeleteAll) {
			wall += fmt.Sprintf(" (n=%d)", len(r.runs))
		}
		line = append(line, wall, fmtDur(md.cpu), mib(maxRSS(r.runs)))
		switch {
		case r.ref:
			line = append(line, "1.00 ("+refName+")", "")
		case refOK:
			line = append(line, ratio(md.wall, ref.wall)+" "+refName, ratio(md.cpu, ref.cpu))
		default:
			line = append(line, "–", "–")
		}
		for _, p := range peers {
			pm, ok := b.med(ds, c, p)
			if r.ref || p == r.tool || !ok {
				line = append(line, "")
				continue
			}
			line = append(line, ratio(md.wall, pm.wall))
		}
		out = append(out, append(line, firstLine(r.note)))
	}
	return out
}

func (b *bench) agentTable(w *bytes.Buffer) {
	a := b.agent
	if a.status != "" {
		fmt.Fprintf(w, "%s: %s\n", a.status, firstLine(a.note))
		return
	}
	rows := [][]string{
		{"ready: initial full sync of an already synced pair (until a marker written before start arrived)", fmtDur(a.ready), ""},
		{fmt.Sprintf("write on one side → file complete on the other, median (n=%d)", len(a.lat)), fmtDur(percentile(a.lat, 50)), fmt.Sprintf("≤ %.0f s", targetLatency)},
		{"… 95th percentile", fmtDur(percentile(a.lat, 95)), ""},
		{"… slowest", fmtDur(percentile(a.lat, 100)), ""},
		{fmt.Sprintf("CPU while idle over %s", fmtDur(a.idleFor)), fmt.Sprintf("%s = %.2f%% of one CPU", fmtDur(a.idleCPU), 100*a.idleShare()), fmt.Sprintf("< %.0f%%", 100*targetIdleCPU)},
		{"resident memory, steady (VmRSS after the idle period)", mib(a.rssKiB) + " MiB", fmt.Sprintf("< %d MiB", targetRSSMiB)},
		{"resident memory, peak (VmHWM)", mib(a.hwmKiB) + " MiB", fmt.Sprintf("< %d MiB", targetRSSMiB)},
		{"sync cycles reported (--json lines)", strconv.Itoa(a.cycles), ""},
	}
	writeTable(w, []string{"measure", "value", "target"}, rows)
}

func (a *agentResult) idleShare() float64 {
	if a.idleFor <= 0 {
		return 0
	}
	return a.idleCPU.Seconds() / a.idleFor.Seconds()
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// targets judges Dovetail against the targets, on the main set (and
// the huge set for memory at 1,000,000 files).
func (b *bench) targets() []string {
	ds := b.main
	if ds == nil {
		return append(append([]string{"small-set targets not judged: the small set was not run"}, b.hugeTarget()...), b.netTargets()...)
	}
	var out []string
	scale := ""
	if ds.files != 100000 {
		scale = fmt.Sprintf(" (this run: %s files, so only indicative)", thousands(ds.files))
	}
	notMeasured := func(what string) { out = append(out, "FAILED "+what+": not measured") }

	if d, ok := b.med(ds, cellInitial, toolDT); !ok {
		notMeasured("initial sync")
	} else if ref, ok := b.med(ds, cellInitial, toolCP); ok {
		x := d.wall.Seconds() / ref.wall.Seconds()
		out = append(out, fmt.Sprintf("%s initial sync ≤ %.1f× cp -a: %.2f× (%s vs %s)%s", verdict(x <= targetInitial), targetInitial, x, fmtDur(d.wall), fmtDur(ref.wall), scale))
	}
	for _, c := range []cellKind{cellNoChange, cellOneChange} {
		d, ok := b.med(ds, c, toolDT)
		if !ok {
			notMeasured(b.cellName(ds, c))
			continue
		}
		ref, ok := b.med(ds, cellNoChange, toolFind)
		if !ok {
			continue
		}
		x := d.wall.Seconds() / ref.wall.Seconds()
		pass := x <= targetResync
		s := fmt.Sprintf("%.2f× find (%s vs %s)", x, fmtDur(d.wall), fmtDur(ref.wall))
		if u, ok := b.med(ds, c, toolUnison); ok {
			pass = pass && d.wall < u.wall
			s += fmt.Sprintf(", unison %s", fmtDur(u.wall))
		} else {
			s += ", unison not measured"
		}
		out = append(out, fmt.Sprintf("%s %s (one-shot) ≤ %.0f× find of both trees and faster than unison: %s%s", verdict(pass), b.cellName(ds, c), targetResync, s, scale))
	}
	if r := b.row(ds, cellRename, toolDT); !r.ok() {
		notMeasured(b.cellName(ds, cellRename))
	} else {
		d := median(r.runs)
		moved := r.note == noteMoved
		how := "as a move"
		if !moved {
			how = orDash(r.note)
		}
		out = append(out, fmt.Sprintf("%s %s done as a move in < %.0f s: %s in %s%s", verdict(moved && d.wall.Seconds() < targetRenameSec), b.cellName(ds, cellRename), targetRenameSec, how, fmtDur(d.wall), scale))
	}
	var peak int64
	for _, r := range b.rows {
		if r.set == ds && r.tool == toolDT {
			peak = max(peak, maxRSS(r.runs))
		}
	}
	what := "one-shot runs"
	if a := b.agent; a != nil && a.status == "" {
		peak = max(peak, a.hwmKiB)
		what += " and the agent"
	}
	if peak > 0 {
		out = append(out, fmt.Sprintf("%s memory < %d MiB RSS at 100,000 files: peak %s MiB over all dovetail %s%s", verdict(float64(peak)/1024 < targetRSSMiB), targetRSSMiB, mib(peak), what, scale))
	}
	out = append(out, b.hugeTarget()...)
	out = append(out, b.netTargets()...)
	switch a := b.agent; {
	case a == nil:
	case a.status != "":
		out = append(out, fmt.Sprintf("%s agent targets: %s", a.status, firstLine(a.note)))
	default:
		med := percentile(a.lat, 50)
		out = append(out, fmt.Sprintf("%s agent: a write propagated within %.0f s at the median: %s (95th percentile %s, n=%d)%s", verdict(med.Seconds() <= targetLatency), targetLatency, fmtDur(med), fmtDur(percentile(a.lat, 95)), len(a.lat), scale))
		out = append(out, fmt.Sprintf("%s idle agent < %.0f%% of one CPU: %.2f%% over %s", verdict(a.idleShare() < targetIdleCPU), 100*targetIdleCPU, 100*a.idleShare(), fmtDur(a.idleFor)))
	}
	return out
}

// netTargets judges the network cells: memory with one large file through
// each server, and (no target, a comparison) Dovetail against rclone bisync
// over SFTP.
func (b *bench) netTargets() []string {
	var out []string
	if ds := b.netSet; ds != nil {
		var parts []string
		for _, c := range []cellKind{cellInitial, cellNoChange} {
			d, ok1 := b.med(ds, c, toolDT)
			r, ok2 := b.med(ds, c, toolRclone)
			if ok1 && ok2 {
				parts = append(parts, fmt.Sprintf("%s %s (%s vs %s)", b.cellName(ds, c), ratio(d.wall, r.wall), fmtDur(d.wall), fmtDur(r.wall)))
			}
		}
		if len(parts) > 0 {
			out = append(out, fmt.Sprintf("over SFTP (no target), dovetail ÷ rclone bisync at %s files: %s", thousands(ds.files), strings.Join(parts, "; ")))
		}
	}
	if b.memSet == nil {
		return out
	}
	var peak int64
	var each []string
	all := true
	for _, r := range b.mem {
		if !r.ok() {
			all = false
			continue
		}
		peak = max(peak, r.m.rssKiB)
		each = append(each, fmt.Sprintf("%s %s %s", r.conn, r.direction, mib(r.m.rssKiB)))
	}
	if len(each) == 0 {
		return out
	}
	scale := ""
	if b.cfg.netMiB != 1024 {
		scale = fmt.Sprintf(" (this run: %s, so only indicative)", b.memSet.title)
	}
	if !all {
		scale += "; not every transfer was measured (see the table)"
	}
	out = append(out, fmt.Sprintf("%s memory bounded by configuration, not file size: a 1 GiB upload and download each < %d MiB RSS: peak %s MiB (%s)%s",
		verdict(float64(peak)/1024 < targetRSSMiB), targetRSSMiB, mib(peak), strings.Join(each, ", "), scale))
	return out
}

// hugeTarget judges memory at 1,000,000 files when the huge set ran.
func (b *bench) hugeTarget() []string {
	var out []string
	for _, h := range b.sets {
		if h.name != "huge" {
			continue
		}
		var hp int64
		for _, r := range b.rows {
			if r.set == h && r.tool == toolDT {
				hp = max(hp, maxRSS(r.runs))
			}
		}
		if hp > 0 {
			out = append(out, fmt.Sprintf("%s memory < %d MiB RSS at %s files: peak %s MiB over the dovetail runs", verdict(float64(hp)/1024 < targetHugeMiB), targetHugeMiB, thousands(h.files), mib(hp)))
		}
	}
	return out
}

// rerunCmd is the command that repeats this run: the rerun command with the
// environment run.sh reads (BENCH_FILES, BENCH_HUGE, BENCH_ARGS).
func (b *bench) rerunCmd() string {
	var env []string
	if b.cfg.files != 100000 {
		env = append(env, fmt.Sprintf("BENCH_FILES=%d", b.cfg.files))
	}
	if b.cfg.huge {
		env = append(env, "BENCH_HUGE=1")
	}
	if a := strings.TrimSpace(os.Getenv("BENCH_ARGS")); a != "" {
		env = append(env, fmt.Sprintf("BENCH_ARGS=%q", a))
	}
	return strings.Join(append(env, b.cfg.rerun), " ")
}

// writeTable writes a markdown table padded so it also reads as plain text.
func writeTable(w *bytes.Buffer, header []string, rows [][]string) {
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = runeLen(h)
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], runeLen(c))
		}
	}
	line := func(cells []string) {
		w.WriteString("|")
		for i, c := range cells {
			w.WriteString(" " + c + strings.Repeat(" ", width[i]-runeLen(c)) + " |")
		}
		w.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}

func runeLen(s string) int { return len([]rune(s)) }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func humanBytes(n int64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

const (
	markBegin = "<!-- bench:begin -->"
	markEnd   = "<!-- bench:end -->"
)

// writeDoc replaces the text between the markers in path, creating the file
// from a short template when it does not exist (or the markers are missing).
func writeDoc(path, report string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	if doc == "" {
		doc = docTemplate
	}
	i := strings.Index(doc, markBegin)
	j := strings.Index(doc, markEnd)
	if i < 0 || j < i {
		doc = strings.TrimRight(doc, "\n") + "\n\n## Latest results\n\n" + markBegin + "\n" + markEnd + "\n"
		i = strings.Index(doc, markBegin)
		j = strings.Index(doc, markEnd)
	}
	doc = doc[:i+len(markBegin)] + "\n" + report + "\n" + doc[j:]
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

const docTemplate = `# Benchmarks

Generated by ` + "`make bench`" + ` (bench/run.sh); see bench/README.md.

## Latest results

` + markBegin + `
` + markEnd + `
`
