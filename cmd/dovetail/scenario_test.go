package main

// End-to-end scenarios for "dovetail sync".
//
// Each file testdata/scenarios/NNN-short-name.txt is one scenario. It runs
// against two fresh, empty folders LOCAL and REMOTE, with the state file
// STATE = TMP/state.db in a private temporary folder TMP (always passed as
// --state, so nothing is written to the real home folder).
// Files in testdata/scenarios/pending/ are parsed but not run (they expose
// known bugs); set DOVETAIL_SCENARIOS_PENDING=1 to run them too.
//
// Every scenario runs once per kind of remote side (TestScenarios/KIND/NNN):
// local (REMOTE is TMP/remote, given to the sync as a path), and sftp, s3
// and webdav, where the sync is given the URL of a real server (OpenSSH
// sshd, versitygw, Apache mod_dav; one per kind for the whole test) rooted
// at the scenario's own sub-folder, and REMOTE, in setup commands and
// checks, is the plain folder behind that URL on this machine. A missing
// server skips its kind, or fails it under CI=true. On s3, remote files,
// folders and times are written through the S3 API (the object's mtime
// metadata, a "dir/" marker), as another S3 client would; a missing
// REMOTE is an empty one there. Scenarios whose premise a kind lacks say
// so with "requires"; scenarios that fail on a kind because of a known bug
// are listed in knownBugs with the pending scenario that shows it.
//
// A line is blank, a comment starting with "#" (the first comment is the
// scenario's description, shown on failure), or a command. Words are
// separated by blanks; a word may be a Go-quoted string ("a b\n", `raw`),
// which is how paths with blanks and all contents are written. SIDE is
// local, remote or both. PATH is relative to the side's root, with "/".
//
// Setting up:
//
//	requires WHAT                skip the scenario where WHAT does not hold:
//	                             non-root (not running as uid 0),
//	                             remote-trash (the remote keeps deleted and
//	                             replaced files in REMOTE/.dovetail/trash:
//	                             local, sftp), remote-mtime (the remote
//	                             stores the times it is given: not webdav),
//	                             remote-ids (the remote reports file IDs, so
//	                             a rename made on it is seen as a move: local
//	                             only), remote-long-names (the remote server
//	                             can write and replace 255-byte names: not
//	                             versitygw), remote=KIND (only on that kind:
//	                             local, sftp, s3, webdav). One per line.
//	local|remote|both PATH "content"
//	                             write a file (parents created); "" is empty.
//	                             Each write gets an mtime later than the
//	                             file's previous one and than every earlier
//	                             write of the scenario, as real later edits
//	                             would (the kernel clock is coarse)
//	local|remote|both PATH size=5MiB
//	                             seeded random content (B, KiB, MiB), the
//	                             same for the same PATH and size every time
//	file PATH "content"          write TMP/PATH, outside both roots
//	mkdir SIDE PATH              create a folder (and parents)
//	rm SIDE PATH                 remove a file or a folder with its contents
//	mv local|remote FROM TO      rename (parents of TO created)
//	touch SIDE PATH [DURATION]   move the mtime by DURATION (default +2s;
//	                             "-1h", "+90m"), content unchanged
//	mtime SIDE PATH TIME         set the mtime to TIME (RFC 3339)
//	chmod local|remote PATH MODE chmod to the octal MODE (restored for cleanup)
//	mkfifo local|remote PATH     create a named pipe
//	symlink local|remote PATH TARGET
//	                             create a symbolic link to TARGET
//	hardlink local|remote PATH EXISTING
//	                             create a hard link to the file EXISTING
//	rmroot local|remote          remove the whole LOCAL or REMOTE folder
//	corrupt-state                overwrite the state file with garbage
//
// Running:
//
//	sync [FLAGS...]              run(ctx, ["sync", "--state", STATE, FLAGS...,
//	                             LOCAL, REMOTE]) in-process. The next command
//	                             must be "exit N": every sync states its
//	                             expected exit status.
//	exit N                       the exit status of the sync just run
//	stdout|stderr contains|lacks "text"
//	                             the last sync's output has (has not) text
//	json PATH VALUE              the last sync ran with --json: the value at
//	                             the dotted PATH of its decoded output
//	                             ("summary.uploaded", "conflicts.0.kept") is
//	                             VALUE, a JSON literal (3, "local", true,
//	                             null; $LOCAL etc. expanded in strings). A path element "#" is the length of
//	                             an array or object; VALUE "present" only
//	                             checks that PATH exists
//	crash [after=N] [at=PREFIX] sync [FLAGS...]
//	                             run the real binary (built once) on the pair
//	                             and SIGKILL it as soon as the Nth distinct
//	                             temporary file of a transfer (default 1st)
//	                             appears under LOCAL or REMOTE: a process
//	                             killed in the middle of a transfer. Temporary
//	                             files are Dovetail's ".dovetail.tmp.*" (not
//	                             the WebDAV connector's ".dovetail.tmp.probe.*"),
//	                             Apache's ".davfs.tmp*" of 64 KiB or more, and
//	                             on s3 the unfinished multipart uploads; with
//	                             at=, only temporary files whose name starts
//	                             with PREFIX count, probes included
//
// In sync flags, symlink targets, stdout/stderr texts and json strings, $TMP, $LOCAL,
// $REMOTE and $STATE are replaced by the scenario's paths; $REMOTE is the
// REMOTE argument of the sync (a URL on network kinds, as the output names
// it), except in symlink targets, where it is the folder.
//
// Checking (SIDE both means each of local and remote):
//
//	expect SIDE PATH "content"   a regular file with this content
//	expect SIDE PATH size=5MiB   the seeded content "PATH size=5MiB" writes
//	expect tmp PATH "content"    TMP/PATH, outside the roots
//	expect missing SIDE|tmp PATH nothing at PATH
//	expect dir SIDE PATH         a folder at PATH
//	expect same                  both trees are identical (paths, kinds and
//	                             contents), ignoring .dovetail at the roots
//	expect trash local|remote "content"
//	                             some file under ROOT/.dovetail/trash has it
//	                             (a remote trash needs requires remote-trash)
//	expect trash local|remote PATH size=5MiB
//	                             some trashed file has the seeded content of
//	                             "PATH size=5MiB" (or PATH "content")
//	expect conflict SIDE PATH "content" [from=local|remote]
//	                             exactly one conflict revision of PATH exists
//	                             (a sibling STEM.conflict-SIDE-YYYYMMDD-HHMMSS
//	                             [-N]EXT, stamped with the local time of now),
//	                             with this content; from= checks the side
//	                             named in it
//	expect no-debris             no temporary file (as for crash, probes
//	                             included) anywhere in either tree
//	expect count SIDE N          N regular files (outside .dovetail)

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const scenarioDir = "../../testdata/scenarios"

// token is one word of a scenario line.
type token struct {
	s      string
	quoted bool
}

type command struct {
	line int
	raw  string
	args []token
}

func (c command) word(i int) string {
	if i < len(c.args) {
		return c.args[i].s
	}
	return ""
}

type scenario struct {
	file     string // path relative to the package
	desc     string
	requires []string
	commands []command
}

// tokenize splits a line into words; quoted words are unquoted.
func tokenize(line string) ([]token, error) {
	var out []token
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			return out, nil
		}
		if line[0] == '"' || line[0] == '`' {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, fmt.Errorf("bad quoted string at %.20q", line)
			}
			s, err := strconv.Unquote(q)
			if err != nil {
				return nil, err
			}
			out = append(out, token{s: s, quoted: true})
			line = line[len(q):]
			if line != "" && line[0] != ' ' && line[0] != '\t' {
				return nil, fmt.Errorf("no blank after quoted string %s", q)
			}
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			i = len(line)
		}
		out = append(out, token{s: line[:i]})
		line = line[i:]
	}
}

// arity lists, per command, the allowed number of words after the command
// name (min, max; max -1 for any).
var arity = map[string][2]int{
	"requires": {1, 1}, "local": {2, 2}, "remote": {2, 2}, "both": {2, 2}, "file": {2, 2},
	"mkdir": {2, 2}, "rm": {2, 2}, "mv": {3, 3}, "touch": {2, 3}, "mtime": {3, 3}, "chmod": {3, 3},
	"mkfifo": {2, 2}, "symlink": {3, 3}, "hardlink": {3, 3}, "rmroot": {1, 1}, "corrupt-state": {0, 0},
	"sync": {0, -1}, "exit": {1, 1}, "stdout": {2, 2}, "stderr": {2, 2}, "json": {2, 2},
	"crash": {1, -1}, "expect": {1, 5},
}

func parseScenario(file string) (*scenario, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	file = strings.TrimPrefix(file, "../../") // shown relative to the repository
	sc := &scenario{file: file}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimRight(line, " \t\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			if sc.desc == "" {
				sc.desc = strings.TrimSpace(strings.TrimPrefix(trimmed, "#"))
			}
			continue
		}
		toks, err := tokenize(trimmed)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, n, err)
		}
		c := command{line: n, raw: trimmed, args: toks}
		name := c.word(0)
		ar, ok := arity[name]
		if !ok || toks[0].quoted {
			return nil, fmt.Errorf("%s:%d: unknown command %q", file, n, name)
		}
		if k := len(toks) - 1; k < ar[0] || (ar[1] >= 0 && k > ar[1]) {
			return nil, fmt.Errorf("%s:%d: %s takes %d to %d words, got %d", file, n, name, ar[0], ar[1], k)
		}
		if name == "requires" {
			if !slices.Contains(knownRequirements, c.word(1)) {
				return nil, fmt.Errorf("%s:%d: unknown requirement %q (known: %s)", file, n, c.word(1), strings.Join(knownRequirements, ", "))
			}
			sc.requires = append(sc.requires, c.word(1))
			continue
		}
		sc.commands = append(sc.commands, c)
	}
	if sc.desc == "" {
		return nil, fmt.Errorf("%s: no description (the first # comment)", file)
	}
	// Every sync is followed by its expected exit status; exit only
	// follows a sync.
	for i, c := range sc.commands {
		if c.word(0) == "sync" {
			if i+1 >= len(sc.commands) || sc.commands[i+1].word(0) != "exit" {
				return nil, fmt.Errorf("%s:%d: a sync must be followed by an \"exit N\" line", file, c.line)
			}
		}
		if c.word(0) == "exit" && (i == 0 || sc.commands[i-1].word(0) != "sync") {
			return nil, fmt.Errorf("%s:%d: \"exit\" must directly follow a sync", file, c.line)
		}
	}
	return sc, nil
}

func scenarioFiles(t *testing.T, pending bool) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(scenarioDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if pending {
		more, err := filepath.Glob(filepath.Join(scenarioDir, "pending", "*.txt"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, more...)
	}
	if len(files) == 0 {
		t.Fatalf("no scenarios in %s", scenarioDir)
	}
	return files
}

// TestScenarioFilesParse checks the syntax of every scenario, pending ones
// included.
func TestScenarioFilesParse(t *testing.T) {
	for _, f := range scenarioFiles(t, true) {
		if _, err := parseScenario(f); err != nil {
			t.Error(err)
		}
	}
	// Every known bug names a scenario that exists and the pending one
	// that shows the bug.
	for kind, bugs := range knownBugs {
		for name, bug := range bugs {
			for _, f := range []string{name + ".txt", bug} {
				if _, err := os.Stat(filepath.Join(scenarioDir, f)); err != nil {
					t.Errorf("knownBugs[%q][%q]: %v", kind, name, err)
				}
			}
		}
	}
}

// TestScenarios runs every scenario against each kind of remote side
// (TestScenarios/KIND/NNN-name): a local folder, and the SFTP, S3 and
// WebDAV connectors in front of their real servers, one server per kind
// for the whole test and one sub-folder of it per scenario.
func TestScenarios(t *testing.T) {
	pending := os.Getenv("DOVETAIL_SCENARIOS_PENDING") != ""
	files := scenarioFiles(t, pending)
	var scs []*scenario
	for _, f := range files {
		sc, err := parseScenario(f)
		if err != nil {
			t.Error(err)
			continue
		}
		scs = append(scs, sc)
	}
	for _, rk := range remoteKinds {
		t.Run(rk.name, func(t *testing.T) {
			start := time.Now()
			kind := rk.start(t)
			t.Cleanup(func() { t.Logf("%s: %d scenarios in %s", rk.name, len(scs), time.Since(start).Round(time.Second)) })
			for _, sc := range scs {
				name := strings.TrimSuffix(filepath.Base(sc.file), ".txt")
				if filepath.Base(filepath.Dir(sc.file)) == "pending" {
					name = "pending/" + name
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					for _, req := range sc.requires {
						if !kind.has(req) {
							t.Skipf("requires %s: %s", req, kind.whyNot(req))
						}
					}
					if bug, ok := knownBugs[rk.name][name]; ok && !pending {
						t.Skipf("known bug on %s, shown by %s (DOVETAIL_SCENARIOS_PENDING=1 runs it)", rk.name, bug)
					}
					runScenario(t, sc, kind, strings.ReplaceAll(name, "/", "-"))
				})
			}
		})
	}
}

// senv is one running scenario.
type senv struct {
	t                         *testing.T
	sc                        *scenario
	rs                        *remoteSide
	cur                       command
	tmp, local, remote, state string // remote: the folder on disk (rs.dir)
	lastArgs                  []string
	lastStdout, lastStderr    string
	lastCode                  int
	lastStamp                 time.Time // the mtime of the latest write
	ran                       bool
}

// runScenario runs sc with a remote side of the given kind, rooted at the
// sub-folder name of the kind's server.
func runScenario(t *testing.T, sc *scenario, kind *remoteKind, name string) {
	tmp := t.TempDir()
	rs := kind.side(tmp, name)
	e := &senv{t: t, sc: sc, tmp: tmp, rs: rs,
		local: filepath.Join(tmp, "local"), remote: rs.dir, state: filepath.Join(tmp, "state.db")}
	for _, d := range []string{e.local, e.remote} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if kind.srv != nil {
		// The server's folder lives as long as the kind: free the space
		// (crash scenarios write hundreds of MiB) as soon as we are done.
		t.Cleanup(func() { os.RemoveAll(e.remote) })
	}
	// Make everything removable again (chmod 000 folders) before TempDir's
	// own cleanup, which was registered earlier and so runs later.
	t.Cleanup(func() {
		for _, root := range []string{tmp, e.remote} {
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if d != nil && d.IsDir() {
					os.Chmod(p, 0o755)
				} else if err != nil {
					os.Chmod(p, 0o755)
				}
				return nil
			})
		}
	})
	for _, c := range sc.commands {
		e.cur = c
		e.exec(c)
	}
}

// fail stops the scenario, naming the file, line and description, with the
// output of the last sync.
func (e *senv) fail(format string, args ...any) {
	e.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: %s\n  scenario: %s\n  %s", e.sc.file, e.cur.line, e.cur.raw, e.sc.desc, fmt.Sprintf(format, args...))
	if e.ran {
		fmt.Fprintf(&b, "\n--- last sync: %s (exit %d)\n--- stdout:\n%s\n--- stderr:\n%s", strings.Join(e.lastArgs, " "), e.lastCode, e.lastStdout, e.lastStderr)
	}
	e.t.Fatal(b.String())
}

// expand replaces the scenario's variables in sync flags, output texts and
// json strings: $REMOTE is what the sync was given as REMOTE (the URL of a
// network remote), which is how its output names the remote.
func (e *senv) expand(s string) string {
	return strings.NewReplacer("$TMP", e.tmp, "$LOCAL", e.local, "$REMOTE", e.rs.arg, "$STATE", e.state).Replace(s)
}

// expandPath is expand for a path on this machine (a symlink target):
// $REMOTE is the remote folder on disk.
func (e *senv) expandPath(s string) string {
	return strings.NewReplacer("$TMP", e.tmp, "$LOCAL", e.local, "$REMOTE", e.remote, "$STATE", e.state).Replace(s)
}

// roots resolves a side word to root folders.
func (e *senv) roots(side string, allowBoth, allowTmp bool) []string {
	e.t.Helper()
	switch side {
	case "local":
		return []string{e.local}
	case "remote":
		return []string{e.remote}
	case "both":
		if allowBoth {
			return []string{e.local, e.remote}
		}
	case "tmp":
		if allowTmp {
			return []string{e.tmp}
		}
	}
	e.fail("bad side %q", side)
	return nil
}

func (e *senv) sideName(root string) string {
	switch root {
	case e.local:
		return "local"
	case e.remote:
		return "remote"
	}
	return "tmp"
}

func at(root, p string) string {
	return filepath.Join(root, filepath.FromSlash(p))
}

func (e *senv) check(err error) {
	e.t.Helper()
	if err != nil {
		e.fail("%v", err)
	}
}

// parseSize parses "size=5MiB".
func parseSize(s string) (int64, bool, error) {
	v, ok := strings.CutPrefix(s, "size=")
	if !ok {
		return 0, false, nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(v, u.suf); ok {
			v, mult = n, u.m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, true, fmt.Errorf("bad size %q", s)
	}
	return n * mult, true, nil
}

// seeded returns the reproducible content of "PATH size=N".
func seeded(p string, size int64) io.Reader {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", p, size)
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	return io.LimitReader(rand.NewChaCha8(seed), size)
}

// content returns the reader for a content word (quoted string or size=N).
func (e *senv) content(p string, tok token) (io.Reader, int64) {
	e.t.Helper()
	if tok.quoted {
		return strings.NewReader(tok.s), int64(len(tok.s))
	}
	n, ok, err := parseSize(tok.s)
	if err != nil || !ok {
		e.fail("content must be a quoted string or size=N, got %q", tok.s)
	}
	return seeded(p, n), n
}

func (e *senv) writeFile(root, p string, tok token) {
	e.t.Helper()
	full := at(root, p)
	if root == e.remote && e.rs.kind.objects != nil {
		e.putObject(full, p, tok)
		return
	}
	e.check(os.MkdirAll(filepath.Dir(full), 0o755))
	var old time.Time
	if st, err := os.Lstat(full); err == nil {
		old = st.ModTime()
	}
	r, _ := e.content(p, tok)
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	e.check(err)
	_, err = io.Copy(f, r)
	e.check(err)
	e.check(f.Close())
	st, err := os.Lstat(full)
	e.check(err)
	want := e.stamp(old, st.ModTime())
	if !want.Equal(st.ModTime()) {
		e.check(os.Chtimes(full, want, want))
	}
}

// stamp gives a write its own mtime, later than the file's previous one
// (old, zero for a new file) and than every earlier write of the scenario:
// the kernel's clock ticks coarsely, and two edits made "at the same time"
// on both sides would otherwise get equal times by accident. (Scenarios
// that want equal times say so with mtime.) Later means later by the
// remote's time precision at least (SFTP and WebDAV show whole seconds), so
// that the remote can tell the writes apart as it would real edits, made
// seconds apart.
func (e *senv) stamp(old, now time.Time) time.Time {
	step := e.rs.kind.mtimeStep()
	want := now
	if !old.IsZero() && !want.After(old.Add(step)) {
		want = old.Add(max(step, 10*time.Millisecond))
	}
	if !want.After(e.lastStamp) {
		want = e.lastStamp.Add(step)
	}
	if step > time.Millisecond && want.Truncate(step).Equal(e.lastStamp.Truncate(step)) {
		want = e.lastStamp.Add(step)
	}
	e.lastStamp = want
	return want
}

// putObject writes the remote file full through the S3 API, stamped with
// its mtime in the object's metadata.
func (e *senv) putObject(full, p string, tok token) {
	e.t.Helper()
	o := e.rs.kind.objects
	old, _, err := o.mtime(full)
	e.check(err)
	r, n := e.content(p, tok)
	e.check(o.put(full, r, n, e.stamp(old, time.Now())))
}

// setMtime sets the mtime of the file p at root (the object's metadata on
// S3), after the function of its current mtime that change gives.
func (e *senv) setMtime(root, p string, change func(time.Time) time.Time) {
	e.t.Helper()
	full := at(root, p)
	if root == e.remote && e.rs.kind.objects != nil {
		o := e.rs.kind.objects
		cur, ok, err := o.mtime(full)
		e.check(err)
		if !ok {
			e.fail("remote %s: no such object", p)
		}
		e.check(o.setMtime(full, change(cur)))
		return
	}
	st, err := os.Lstat(full)
	e.check(err)
	t := change(st.ModTime())
	e.check(os.Chtimes(full, t, t))
}

func (e *senv) exec(c command) {
	e.t.Helper()
	w := c.word
	switch w(0) {
	case "local", "remote", "both":
		for _, r := range e.roots(w(0), true, false) {
			e.writeFile(r, w(1), c.args[2])
		}
	case "file":
		e.writeFile(e.tmp, w(1), c.args[2])
	case "mkdir":
		for _, r := range e.roots(w(1), true, false) {
			if r == e.remote && e.rs.kind.objects != nil {
				e.check(e.rs.kind.objects.mkdir(at(r, w(2))))
				continue
			}
			e.check(os.MkdirAll(at(r, w(2)), 0o755))
		}
	case "rm":
		for _, r := range e.roots(w(1), true, false) {
			_, err := os.Lstat(at(r, w(2)))
			e.check(err)
			e.check(os.RemoveAll(at(r, w(2))))
		}
	case "mv":
		r := e.roots(w(1), false, false)[0]
		e.check(os.MkdirAll(filepath.Dir(at(r, w(3))), 0o755))
		e.check(os.Rename(at(r, w(2)), at(r, w(3))))
	case "touch":
		d := 2 * time.Second
		if len(c.args) > 3 {
			var err error
			d, err = time.ParseDuration(w(3))
			e.check(err)
		}
		for _, r := range e.roots(w(1), true, false) {
			e.setMtime(r, w(2), func(t time.Time) time.Time { return t.Add(d) })
		}
	case "mtime":
		t, err := time.Parse(time.RFC3339Nano, w(3))
		e.check(err)
		for _, r := range e.roots(w(1), true, false) {
			e.setMtime(r, w(2), func(time.Time) time.Time { return t })
		}
	case "chmod":
		r := e.roots(w(1), false, false)[0]
		m, err := strconv.ParseUint(w(3), 8, 32)
		e.check(err)
		e.check(os.Chmod(at(r, w(2)), os.FileMode(m)))
	case "mkfifo":
		r := e.roots(w(1), false, false)[0]
		e.check(os.MkdirAll(filepath.Dir(at(r, w(2))), 0o755))
		e.check(syscall.Mkfifo(at(r, w(2)), 0o644))
	case "hardlink":
		r := e.roots(w(1), false, false)[0]
		e.check(os.MkdirAll(filepath.Dir(at(r, w(2))), 0o755))
		e.check(os.Link(at(r, w(3)), at(r, w(2))))
	case "symlink":
		r := e.roots(w(1), false, false)[0]
		e.check(os.MkdirAll(filepath.Dir(at(r, w(2))), 0o755))
		e.check(os.Symlink(e.expandPath(w(3)), at(r, w(2))))
	case "rmroot":
		e.check(os.RemoveAll(e.roots(w(1), false, false)[0]))
	case "corrupt-state":
		if _, err := os.Stat(e.state); err != nil {
			e.fail("no state file to corrupt: %v", err)
		}
		garbage := bytes.Repeat([]byte("this is not a dovetail state file \x00\xff\xfe"), 200)
		e.check(os.WriteFile(e.state, garbage, 0o600))
		for _, sfx := range []string{"-wal", "-shm", "-journal"} {
			os.Remove(e.state + sfx)
		}
	case "sync":
		e.sync(c)
	case "exit":
		want, err := strconv.Atoi(w(1))
		e.check(err)
		if e.lastCode != want {
			e.fail("exit status %d, want %d", e.lastCode, want)
		}
	case "stdout", "stderr":
		out := e.lastStdout
		if w(0) == "stderr" {
			out = e.lastStderr
		}
		if !e.ran {
			e.fail("no sync has run")
		}
		if !c.args[2].quoted {
			e.fail("the text must be quoted")
		}
		text := e.expand(w(2))
		switch w(1) {
		case "contains":
			if !strings.Contains(out, text) {
				e.fail("%s does not contain %q", w(0), text)
			}
		case "lacks":
			if strings.Contains(out, text) {
				e.fail("%s contains %q", w(0), text)
			}
		default:
			e.fail("want contains or lacks, got %q", w(1))
		}
	case "json":
		e.json(c)
	case "crash":
		e.crash(c)
	case "expect":
		e.expect(c)
	default:
		e.fail("unknown command")
	}
}

func (e *senv) sync(c command) {
	e.t.Helper()
	args := []string{"sync", "--state", e.state}
	for _, a := range c.args[1:] {
		args = append(args, e.expand(a.s))
	}
	args = append(args, e.local, e.rs.arg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	e.ran, e.lastArgs, e.lastCode = true, args, code
	e.lastStdout, e.lastStderr = stdout.String(), stderr.String()
}

func (e *senv) json(c command) {
	e.t.Helper()
	if !e.ran {
		e.fail("no sync has run")
	}
	var doc any
	if err := json.Unmarshal([]byte(e.lastStdout), &doc); err != nil {
		e.fail("stdout of the last sync is not JSON (run it with --json): %v", err)
	}
	cur := doc
	path := c.word(1)
	for _, el := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			if el == "#" {
				cur = float64(len(v))
				continue
			}
			x, ok := v[el]
			if !ok {
				e.fail("json: no field %q in %s", el, path)
			}
			cur = x
		case []any:
			if el == "#" {
				cur = float64(len(v))
				continue
			}
			i, err := strconv.Atoi(el)
			if err != nil || i < 0 || i >= len(v) {
				e.fail("json: no element %q in %s (length %d)", el, path, len(v))
			}
			cur = v[i]
		default:
			e.fail("json: %s: %q is inside a %T", path, el, cur)
		}
	}
	tok := c.args[2]
	if !tok.quoted && tok.s == "present" {
		return
	}
	var want any
	if tok.quoted {
		want = e.expand(tok.s)
	} else if err := json.Unmarshal([]byte(tok.s), &want); err != nil {
		e.fail("json: bad value %q (quote strings)", tok.s)
	}
	if !reflect.DeepEqual(cur, want) {
		got, _ := json.Marshal(cur)
		e.fail("json %s is %s, want %s", path, got, tok.s)
	}
}

// --- crash ---------------------------------------------------------------

var binOnce struct {
	sync.Once
	path string
	err  error
	dir  string
}

// dovetailBinary builds the real binary once per test run.
func dovetailBinary() (string, error) {
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dovetail-scenario-bin-")
		if err != nil {
			binOnce.err = err
			return
		}
		binOnce.dir = dir
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binOnce.path = filepath.Join(dir, "dovetail")
		cmd := exec.Command(goTool, "build", "-o", binOnce.path, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	return binOnce.path, binOnce.err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binOnce.dir != "" {
		os.RemoveAll(binOnce.dir)
	}
	os.Exit(code)
}

// tempFiles returns the Dovetail temporary files under the roots.
func tempFiles(roots ...string) []string {
	var out []string
	for _, r := range roots {
		filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), ".dovetail.tmp.") {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

func (e *senv) crash(c command) {
	e.t.Helper()
	after := 1
	rest := c.args[1:]
	if v, ok := strings.CutPrefix(rest[0].s, "after="); ok && !rest[0].quoted {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			e.fail("bad %q", rest[0].s)
		}
		after, rest = n, rest[1:]
	}
	counts := inTransfer
	if v, ok := strings.CutPrefix(rest[0].s, "at="); ok && len(rest) > 1 {
		counts = func(p string) bool { return strings.HasPrefix(filepath.Base(p), v) }
		rest = rest[1:]
	}
	if len(rest) == 0 || rest[0].s != "sync" {
		e.fail("want crash [after=N] [at=PREFIX] sync [FLAGS...]")
	}
	bin, err := dovetailBinary()
	e.check(err)
	args := []string{"sync", "--state", e.state}
	for _, a := range rest[1:] {
		args = append(args, e.expand(a.s))
	}
	args = append(args, e.local, e.rs.arg)
	cmd := exec.Command(bin, args...)
	var creds []string
	if e.rs.kind.srv != nil {
		creds = e.rs.kind.srv.Env()
	}
	cmd.Env = append(append(os.Environ(), creds...), "HOME="+e.tmp, "XDG_STATE_HOME="+filepath.Join(e.tmp, "xdg-state"),
		"XDG_DATA_HOME="+filepath.Join(e.tmp, "xdg-data"), "XDG_CONFIG_HOME="+filepath.Join(e.tmp, "xdg-config"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	e.check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	record := func(code int) {
		e.ran, e.lastArgs, e.lastCode = true, append([]string{bin}, args...), code
		e.lastStdout, e.lastStderr = stdout.String(), stderr.String()
	}
	seen := map[string]bool{}
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			record(cmd.ProcessState.ExitCode())
			e.fail("the sync ended (%v) before the %d. temporary file appeared (saw %d): nothing was interrupted; use larger files", err, after, len(seen))
		case <-deadline:
			cmd.Process.Kill()
			<-done
			record(-1)
			e.fail("no %d. temporary file appeared within 20s (saw %d)", after, len(seen))
		case <-tick.C:
			for _, p := range e.debris() {
				if counts(p) {
					seen[p] = true
				}
			}
			if len(seen) < after {
				continue
			}
			e.check(cmd.Process.Signal(syscall.SIGKILL))
			<-done
			record(-1)
			e.t.Logf("%s:%d: killed the sync after seeing %q", e.sc.file, c.line, slices.Sorted(maps.Keys(seen)))
			return
		}
	}
}

// --- expectations --------------------------------------------------------

func (e *senv) expect(c command) {
	e.t.Helper()
	w := c.word
	switch w(1) {
	case "same":
		e.expectSame()
	case "no-debris":
		if tf := e.debris(); len(tf) > 0 {
			e.fail("temporary files left behind: %q", tf)
		}
	case "missing":
		for _, r := range e.roots(w(2), true, true) {
			if _, err := os.Lstat(at(r, w(3))); err == nil {
				e.fail("%s %s exists", e.sideName(r), w(3))
			} else if !os.IsNotExist(err) {
				e.fail("%v", err)
			}
		}
	case "dir":
		for _, r := range e.roots(w(2), true, false) {
			st, err := os.Lstat(at(r, w(3)))
			if err != nil || !st.IsDir() {
				e.fail("%s %s is not a folder (%v)", e.sideName(r), w(3), err)
			}
		}
	case "count":
		n, err := strconv.Atoi(w(3))
		e.check(err)
		for _, r := range e.roots(w(2), true, false) {
			tree := e.tree(r)
			got := 0
			for _, n := range tree {
				if n.kind == "file" {
					got++
				}
			}
			if got != n {
				e.fail("%s has %d files, want %d: %s", e.sideName(r), got, n, listTree(tree))
			}
		}
	case "trash":
		r := e.roots(w(2), false, false)[0]
		// expect trash SIDE "content" | expect trash SIDE PATH CONTENT
		p, tok := "", c.args[len(c.args)-1]
		switch {
		case len(c.args) == 4 && tok.quoted:
		case len(c.args) == 5:
			p = w(3)
		default:
			e.fail("want expect trash SIDE \"content\" or expect trash SIDE PATH CONTENT")
		}
		_, size := e.content(p, tok)
		var found []string
		ok := false
		filepath.WalkDir(filepath.Join(r, ".dovetail", "trash"), func(fp string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || ok {
				return nil
			}
			found = append(found, fp)
			if st, err := d.Info(); err != nil || st.Size() != size {
				return nil
			}
			f, err := os.Open(fp)
			if err != nil {
				return nil
			}
			defer f.Close()
			want, _ := e.content(p, tok)
			_, ok = sameReader(f, want)
			return nil
		})
		if !ok {
			e.fail("no file in %s trash has the content %s; trash holds %q", e.sideName(r), strings.TrimPrefix(c.raw, "expect trash "), found)
		}
	case "conflict":
		e.expectConflict(c)
	default:
		// expect SIDE PATH CONTENT
		if len(c.args) != 4 {
			e.fail("want expect SIDE PATH CONTENT")
		}
		for _, r := range e.roots(w(1), true, true) {
			e.expectFile(r, w(2), c.args[3])
		}
	}
}

func (e *senv) expectFile(root, p string, tok token) {
	e.t.Helper()
	full := at(root, p)
	st, err := os.Lstat(full)
	if err != nil {
		e.fail("%s %s: %v", e.sideName(root), p, err)
	}
	if !st.Mode().IsRegular() {
		e.fail("%s %s is not a regular file (%v)", e.sideName(root), p, st.Mode())
	}
	want, size := e.content(p, tok)
	if st.Size() != size {
		if tok.quoted {
			b, _ := os.ReadFile(full)
			if len(b) > 200 {
				b = b[:200]
			}
			e.fail("%s %s has %q, want %q", e.sideName(root), p, b, tok.s)
		}
		e.fail("%s %s has %d bytes, want %d", e.sideName(root), p, st.Size(), size)
	}
	f, err := os.Open(full)
	e.check(err)
	defer f.Close()
	if off, ok := sameReader(f, want); !ok {
		if tok.quoted {
			b, _ := os.ReadFile(full)
			e.fail("%s %s has %q, want %q", e.sideName(root), p, b, tok.s)
		}
		e.fail("%s %s differs from the expected content at byte %d", e.sideName(root), p, off)
	}
}

// sameReader compares two streams; it returns the first differing offset.
func sameReader(a, b io.Reader) (int64, bool) {
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		na, ea := io.ReadFull(a, ba)
		nb, eb := io.ReadFull(b, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			for i := 0; i < min(na, nb); i++ {
				if ba[i] != bb[i] {
					return off + int64(i), false
				}
			}
			return off + int64(min(na, nb)), false
		}
		off += int64(na)
		if ea != nil || eb != nil {
			end := func(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }
			return off, end(ea) && end(eb)
		}
	}
}

var conflictRE = regexp.MustCompile(`^\.conflict-(local|remote)-(\d{8}-\d{6})(-\d+)?$`)

func splitExt(name string) (string, string) {
	ext := filepath.Ext(name)
	if ext == name || len(ext) > 16 || strings.Contains(ext, " ") {
		ext = ""
	}
	return name[:len(name)-len(ext)], ext
}

func (e *senv) expectConflict(c command) {
	e.t.Helper()
	if len(c.args) < 5 || !c.args[4].quoted {
		e.fail("want expect conflict SIDE PATH \"content\" [from=local|remote]")
	}
	from := ""
	if len(c.args) > 5 {
		v, ok := strings.CutPrefix(c.word(5), "from=")
		if !ok || (v != "local" && v != "remote") {
			e.fail("want from=local or from=remote, got %q", c.word(5))
		}
		from = v
	}
	p := c.word(3)
	dir, name := filepath.Split(filepath.FromSlash(p))
	stem, ext := splitExt(name)
	for _, r := range e.roots(c.word(2), true, false) {
		ents, err := os.ReadDir(filepath.Join(r, dir))
		e.check(err)
		var revs, all []string
		for _, d := range ents {
			all = append(all, d.Name())
			n, ok := strings.CutSuffix(d.Name(), ext)
			i := strings.Index(n, ".conflict-")
			// the stem may be shortened to keep the name within 255 bytes
			if !ok || i < 1 || !strings.HasPrefix(stem, n[:i]) || !conflictRE.MatchString(n[i:]) {
				continue
			}
			revs = append(revs, d.Name())
		}
		if len(revs) != 1 {
			e.fail("%s: want exactly one conflict revision of %s, found %q among %q", e.sideName(r), p, revs, all)
		}
		n := strings.TrimSuffix(revs[0], ext)
		m := conflictRE.FindStringSubmatch(n[strings.Index(n, ".conflict-"):])
		if from != "" && m[1] != from {
			e.fail("%s: conflict revision %s names the %s side, want %s", e.sideName(r), revs[0], m[1], from)
		}
		stamp, err := time.ParseInLocation("20060102-150405", m[2], time.Local)
		e.check(err)
		if d := time.Since(stamp); d < -time.Minute || d > 10*time.Minute {
			e.fail("%s: conflict revision %s is not stamped with the local time of now (%s)", e.sideName(r), revs[0], time.Now().Format("20060102-150405"))
		}
		e.expectFile(r, connectorsJoin(filepath.ToSlash(dir), revs[0]), c.args[4])
	}
}

func connectorsJoin(dir, name string) string {
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

type node struct {
	kind string // file, dir, symlink, other
	size int64
	sum  string
}

// tree lists a root (without its .dovetail folder), hashing file contents.
func (e *senv) tree(root string) map[string]node {
	e.t.Helper()
	out := map[string]node{}
	if _, err := os.Stat(root); root == e.remote && e.rs.kind.objects != nil && errors.Is(err, fs.ErrNotExist) {
		// An S3 prefix without objects is an empty folder, and versitygw
		// removes the folder on disk when its last object goes.
		return out
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if rel == ".dovetail" {
			return filepath.SkipDir
		}
		switch {
		case d.IsDir():
			out[rel] = node{kind: "dir"}
		case d.Type()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			out[rel] = node{kind: "symlink", sum: t}
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := fnv.New128a()
			n, err := io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			out[rel] = node{kind: "file", size: n, sum: fmt.Sprintf("%x", h.Sum(nil))}
		default:
			out[rel] = node{kind: "other"}
		}
		return nil
	})
	e.check(err)
	return out
}

func listTree(t map[string]node) string {
	var names []string
	for p, n := range t {
		if n.kind == "dir" {
			p += "/"
		}
		names = append(names, p)
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

func (e *senv) expectSame() {
	e.t.Helper()
	l, r := e.tree(e.local), e.tree(e.remote)
	var diffs []string
	for p, ln := range l {
		rn, ok := r[p]
		switch {
		case !ok:
			diffs = append(diffs, "only local: "+p)
		case ln.kind != rn.kind:
			diffs = append(diffs, fmt.Sprintf("%s: local %s, remote %s", p, ln.kind, rn.kind))
		case ln != rn:
			diffs = append(diffs, fmt.Sprintf("%s: contents differ (%d vs %d bytes)", p, ln.size, rn.size))
		}
	}
	for p := range r {
		if _, ok := l[p]; !ok {
			diffs = append(diffs, "only remote: "+p)
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		if len(diffs) > 20 {
			diffs = append(diffs[:20], "...")
		}
		e.fail("trees differ:\n    %s\n  local:  %s\n  remote: %s", strings.Join(diffs, "\n    "), listTree(l), listTree(r))
	}
}
