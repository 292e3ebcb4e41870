package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/dial"
	"github.com/dovetail-sync/dovetail/connectors/local"
	"github.com/dovetail-sync/dovetail/connectors/namecode"
	"github.com/dovetail-sync/dovetail/rules"
	"github.com/dovetail-sync/dovetail/statedb"
)

// syncOpts are the flags of "dovetail sync".
type syncOpts struct {
	state      string
	direction  string
	conflict   string
	compare    string
	dryRun     bool
	filters    []rules.Rule
	maxDelete  int
	force      bool
	json       bool
	resetState bool
	noDefaults bool
	workers    int
	trashDays  int
	logLevel   string
	logFormat  string
	cpuProfile string
	folders    []string
	encode     bool
	minSize    sizeFlag
	maxSize    sizeFlag
	watch      bool
	bwlimit    sizeFlag
	poll       time.Duration
	rescan     time.Duration
}

// sizeFlag parses sizes like 500K, 10M, 1.5G or 2GiB (powers of 1024).
type sizeFlag int64

func (s *sizeFlag) String() string {
	if *s == 0 {
		return ""
	}
	return humanBytes(int64(*s))
}

func (s *sizeFlag) Set(v string) error {
	n, err := parseSizeArg(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSizeArg(v string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(v))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (examples: 500K, 10M, 1.5G)", v)
	}
	return int64(f * float64(mult)), nil
}

// listFlag collects a repeatable string flag.
type listFlag struct{ list *[]string }

func (l listFlag) String() string     { return "" }
func (l listFlag) Set(v string) error { *l.list = append(*l.list, v); return nil }

// ruleFlag appends include or exclude rules in the order given, so that
// --exclude, --include and --filter-from interleave as typed.
type ruleFlag struct {
	o       *syncOpts
	include bool
	file    bool
}

func (f ruleFlag) String() string { return "" }

func (f ruleFlag) Set(v string) error {
	if f.file {
		fh, err := os.Open(v)
		if err != nil {
			return fmt.Errorf("filter file: %w", err)
		}
		defer fh.Close()
		rs, err := rules.ParseFilterFile(fh, v)
		if err != nil {
			return err
		}
		f.o.filters = append(f.o.filters, rs...)
		return nil
	}
	f.o.filters = append(f.o.filters, rules.Rule{Include: f.include, Pattern: v})
	return nil
}

func syncFlags(stderr io.Writer) (*flag.FlagSet, *syncOpts) {
	o := &syncOpts{}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.state, "state", "", "state file `FILE` (default: one per pair under $XDG_STATE_HOME/dovetail)")
	fs.StringVar(&o.direction, "direction", "two-way", "`two-way`, upload (local to remote only) or download (remote to local only)")
	fs.StringVar(&o.conflict, "conflict", "keep-local", "when both sides changed a file: `keep-local`, keep-remote or keep-newer;\nthe other version is always kept next to it as NAME.conflict-SIDE-TIME.EXT")
	fs.StringVar(&o.compare, "compare", "mtime", "how a change is detected: `mtime` (size and time) or hash (size and content hash)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be done and change nothing anywhere")
	fs.Var(ruleFlag{o: o}, "exclude", "do not sync paths matching `PATTERN` (repeatable; see docs/filters.md)")
	fs.Var(ruleFlag{o: o, include: true}, "include", "sync only files matching `PATTERN` (repeatable)")
	fs.Var(ruleFlag{o: o, file: true}, "filter-from", "read include (+) and exclude (-) rules from `FILE`")
	fs.Var(&o.maxSize, "max-size", "skip files larger than `SIZE` (e.g. 2G) on both sides: neither copied nor deleted")
	fs.Var(&o.minSize, "min-size", "skip files smaller than `SIZE` on both sides")
	fs.Var(listFlag{&o.folders}, "folder", "selective sync: sync only this `FOLDER` (relative to both roots; repeatable)")
	fs.BoolVar(&o.encode, "encode-names", false, "store names the remote cannot hold (a:b.txt on Windows-like providers) under\nreversible look-alike characters instead of skipping them (see docs/providers.md)")
	fs.IntVar(&o.maxDelete, "max-delete", 50, "refuse a run that deletes more than `PERCENT` of the synced files on one side")
	fs.BoolVar(&o.force, "force", false, "override the safety guards (max-delete, missing or empty folder)")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON on stdout (for scripts)")
	fs.BoolVar(&o.resetState, "reset-state", false, "set the state file aside and merge both sides as on a first run (deletes nothing)")
	fs.BoolVar(&o.noDefaults, "no-default-ignores", false, "also sync OS and editor junk (.DS_Store, Thumbs.db, ~$ lock files, ...)")
	fs.IntVar(&o.workers, "workers", 4, "number of files transferred at once")
	fs.Var(&o.bwlimit, "bwlimit", "limit transfers to and from a network remote to `RATE` bytes per second (e.g. 5M)")
	fs.IntVar(&o.trashDays, "trash-days", 30, "keep deleted and overwritten local files in .dovetail/trash for `DAYS`")
	fs.StringVar(&o.logLevel, "log-level", "warn", "log detail on stderr: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&o.watch, "watch", false, "keep syncing until interrupted (Ctrl-C, SIGTERM): local changes are seen at once,\na remote that is not a local folder is polled every --poll")
	fs.DurationVar(&o.poll, "poll", time.Minute, "with --watch: how often a remote that cannot be watched is listed for changes (`DURATION`, at most 24h)")
	fs.DurationVar(&o.rescan, "rescan", time.Hour, "with --watch: how often both sides are listed in full as a safety net (`DURATION`)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to `FILE` (for diagnosing slow runs)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: dovetail sync [flags] LOCAL REMOTE

Makes LOCAL and REMOTE identical once, in both directions, and exits
(with --watch: keeps them identical until interrupted).
Changes on either side since the last sync are applied to the other; a file
changed on both sides keeps one version at its name and the other as a
conflict revision beside it. Deleted and overwritten local files go to
LOCAL/.dovetail/trash. The first sync of two filled folders merges them:
it deletes nothing.

Safety guards (override with --force): a missing or empty folder that held
synced files stops the run, and so does a run deleting more than
--max-delete percent of the synced files.

Flags:
`)
		printFlags(fs)
	}
	return fs, o
}

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := syncFlags(stderr)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "dovetail sync: need LOCAL and REMOTE, got %d argument(s)\nRun \"dovetail help sync\" for usage.\n", len(pos))
		return exitUsage
	}
	return syncPair(ctx, o, pos[0], pos[1], stdout, stderr)
}

func syncPair(ctx context.Context, o *syncOpts, localArg, remoteArg string, stdout, stderr io.Writer) int {
	fail := func(code int, err error) int {
		if o.json {
			writeJSONError(stdout, err, code)
		}
		fmt.Fprintf(stderr, "dovetail: %v\n", err)
		return code
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fail(exitUsage, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(exitError, err)
		}
		defer pprof.StopCPUProfile()
	}
	log, err := newLogger(stderr, o.logLevel, o.logFormat == "json")
	if err != nil {
		return fail(exitUsage, err)
	}
	var opts reconcile.Options
	if opts.Direction, err = reconcile.ParseDirection(o.direction); err != nil {
		return fail(exitUsage, fmt.Errorf("--direction: %w", err))
	}
	if opts.Conflict, err = reconcile.ParsePolicy(o.conflict); err != nil {
		return fail(exitUsage, fmt.Errorf("--conflict: %w", err))
	}
	if opts.Compare, err = reconcile.ParseCompare(o.compare); err != nil {
		return fail(exitUsage, fmt.Errorf("--compare: %w", err))
	}
	if o.watch && o.dryRun {
		return fail(exitUsage, errors.New("--watch and --dry-run cannot be combined: a dry run changes nothing, so there is nothing to keep watching"))
	}
	if o.poll <= 0 || o.poll > 24*time.Hour {
		return fail(exitUsage, fmt.Errorf("--poll: %s is not between 1s and 24h", o.poll))
	}
	if o.rescan <= 0 {
		return fail(exitUsage, fmt.Errorf("--rescan: %s is not a positive duration", o.rescan))
	}
	if o.maxDelete < 0 || o.maxDelete > 100 {
		return fail(exitUsage, fmt.Errorf("--max-delete: %d is not a percentage from 0 to 100", o.maxDelete))
	}
	if _, err := rules.Build(append(slices.Clone(o.filters), engine.FolderRules(o.folders)...), o.noDefaults); err != nil {
		return fail(exitUsage, err)
	}
	localRoot, err := filepath.Abs(localArg)
	if err != nil {
		return fail(exitUsage, err)
	}
	rem, err := dial.OpenWith(ctx, remoteArg, dial.Options{BwLimit: int64(o.bwlimit), Log: log})
	if err != nil {
		return fail(exitError, err)
	}
	defer rem.Close()
	var remote connectors.Connector = rem.Connector
	remoteName := rem.Name
	if rem.LocalRoot != "" && overlaps(localRoot, rem.LocalRoot) {
		return fail(exitUsage, fmt.Errorf("LOCAL %s and REMOTE %s overlap: one is inside the other", localRoot, rem.LocalRoot))
	}
	if o.encode {
		name := remote.Features().Rules
		rs, err := rules.Lookup(name)
		if err != nil {
			return fail(exitUsage, fmt.Errorf("--encode-names: the remote has no name rules to encode for (%v)", err))
		}
		remote = namecode.New(remote, rs)
	}
	lc, err := local.New(localRoot, local.Options{TrashDir: filepath.Join(localRoot, ".dovetail", "trash")})
	if err != nil {
		return fail(exitUsage, err)
	}
	pairID := localRoot + "\n" + remoteName
	statePath := o.state
	if statePath == "" {
		statePath = defaultStatePath(pairID)
	}
	if o.resetState && !o.dryRun {
		moved, err := statedb.Reset(statePath)
		if err != nil {
			return fail(exitState, err)
		}
		if moved != "" && !o.json {
			fmt.Fprintf(stdout, "Previous state kept as %s; merging both sides as on a first run.\n", moved)
		}
	}
	db, err := statedb.Open(ctx, statePath)
	if err != nil {
		return fail(exitState, err)
	}
	defer db.Close()
	if err := checkPairID(ctx, db, pairID, o.dryRun); err != nil {
		return fail(exitState, err)
	}

	pair := &engine.Pair{
		Local: lc, Remote: remote, LocalName: localRoot, RemoteName: remoteName,
		DB: db, Rules: o.filters, NoDefaultIgnores: o.noDefaults, Folders: o.folders,
		MinSize: int64(o.minSize), MaxSize: int64(o.maxSize), EncodeNames: o.encode,
		Options: opts, DryRun: o.dryRun, Force: o.force,
		MaxDelete: o.maxDelete, Workers: o.workers, Log: log,
		TrashRetention: time.Duration(o.trashDays) * 24 * time.Hour,
	}
	if o.maxDelete == 0 {
		pair.MaxDelete = -1 // an explicit 0 means "no deletes at all"
	}
	if o.watch {
		return watchPair(ctx, o, pair, rem, log, stdout, stderr)
	}
	prog := newProgress(stderr, !o.json)
	pair.Planned = prog.planned
	pair.Progress = prog.step
	rep, err := pair.Run(ctx)
	prog.done()
	if err != nil {
		code := exitError
		if engine.IsGuard(err) {
			code = exitGuard
		}
		if o.json {
			writeJSON(stdout, rep, localRoot, remoteName, err, code)
		} else if rep != nil {
			printProblems(stdout, rep)
		}
		fmt.Fprintf(stderr, "dovetail: %v\n", err)
		return code
	}
	code := exitOK
	if rep.Failed() {
		code = exitPartial
	}
	if o.json {
		writeJSON(stdout, rep, localRoot, remoteName, nil, code)
	} else {
		printReport(stdout, rep, localRoot, remoteName)
	}
	return code
}

func overlaps(a, b string) bool {
	within := func(p, dir string) bool {
		rel, err := filepath.Rel(dir, p)
		return err == nil && (rel == "." || !strings.HasPrefix(rel, ".."))
	}
	return within(a, b) || within(b, a)
}

// defaultStatePath is one state file per pair in the user's state folder.
func defaultStatePath(pairID string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	sum := sha256.Sum256([]byte(pairID))
	return filepath.Join(dir, "dovetail", "pairs", hex.EncodeToString(sum[:8])+".db")
}

// checkPairID makes sure a state file is only ever used for the pair that
// wrote it: the base of one pair applied to another would look like mass
// deletions.
func checkPairID(ctx context.Context, db *statedb.DB, id string, dryRun bool) error {
	have, ok, err := db.Meta(ctx, "pair")
	if err != nil {
		return err
	}
	if ok && have != id {
		return fmt.Errorf("state file %s belongs to another pair (%s), not %s. Use a different --state file, or --reset-state to start this pair afresh",
			db.Path(), strings.ReplaceAll(have, "\n", " <-> "), strings.ReplaceAll(id, "\n", " <-> "))
	}
	if !ok && !dryRun {
		return db.Update(ctx, func(tx *statedb.Tx) error { return tx.SetMeta("pair", id) })
	}
	return nil
}
