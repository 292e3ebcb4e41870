// Package engine runs one sync of a pair: it resolves what an interrupted
// run left behind, lists both sides (filtered, with hostile names refused),
// applies the safety guards, asks the reconciler for a plan, has the
// executor apply it, and reports what happened path by path.
//
// The one-shot `dovetail sync` and the continuous agent both drive this
// engine.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/agent/transfer"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/rules"
	"github.com/dovetail-sync/dovetail/statedb"
)

// Pair is a configured sync pair. Fields are set once before Run.
type Pair struct {
	Local, Remote connectors.Connector
	// LocalName and RemoteName describe the sides in messages
	// ("/home/ann/Docs", "sftp://nas/backup").
	LocalName, RemoteName string
	DB                    *statedb.DB
	// Rules are the user's include/exclude rules in order (flags, filter
	// files); a .dovetailignore file at the local root adds to them.
	Rules []rules.Rule
	// NoDefaultIgnores syncs OS and editor junk too.
	NoDefaultIgnores bool
	// Folders, if set, limits the sync to these folders (selective sync).
	Folders []string
	// MinSize and MaxSize skip files outside the range on both sides
	// (0 = no limit).
	MinSize, MaxSize int64
	// RuleSets are the provider name rules each side must obey; nil means
	// the one its connector names in Features().Rules (or none).
	RuleSets [2]*rules.RuleSet
	// EncodeNames says the remote connector is wrapped by namecode, so
	// names are checked against the remote's rules in encoded form.
	EncodeNames bool
	Options     reconcile.Options
	// DryRun plans and reports but changes nothing anywhere.
	DryRun bool
	// Force overrides the safety guards.
	Force bool
	// MaxDelete is the share of synced files (percent) one run may delete
	// on one side before the run is refused: 0 means the default of 50, a
	// negative value refuses any delete, 100 disables the guard.
	MaxDelete int
	Workers   int
	// TrashRetention is how long trashed files are kept (default 30 days).
	TrashRetention time.Duration
	Log            *slog.Logger
	// Progress, if set, receives each completed step.
	Progress func(transfer.Outcome)
	// BeforeWrite, if set, is called just before a file is written (see
	// transfer.Executor.BeforeWrite).
	BeforeWrite func(side reconcile.Side, path string, size int64, mtime time.Time)
	// Planned, if set, is called with the plan before it is applied.
	Planned func(reconcile.Plan)
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Problem is a path that was not synced, and why.
type Problem struct {
	Side reconcile.Side
	Path string
	Err  error
	// Rule is a stable id for a provider rule or naming problem
	// ("forbidden-char", "case-conflict", "normalization-conflict", ...),
	// "" for other failures.
	Rule string
	// Skipped is true for paths Dovetail deliberately does not sync
	// (symbolic links); false for failures.
	Skipped bool
}

// GuardError is a refusal by a safety guard. Nothing was changed.
type GuardError struct{ Reason string }

func (e *GuardError) Error() string { return e.Reason }

// TrashPurger is implemented by connectors with a local trash folder.
type TrashPurger interface {
	PurgeTrash(before time.Time) (int, error)
}

// Report is what one run did.
type Report struct {
	Plan     reconcile.Plan
	Outcomes []transfer.Outcome
	Problems []Problem
	DryRun   bool
	Started  time.Time
	Duration time.Duration
	// Recovered counts unfinished writes of an interrupted run cleaned up.
	Recovered int
}

// Failed reports whether any path failed (the pair is not fully in sync).
func (r *Report) Failed() bool {
	for _, p := range r.Problems {
		if !p.Skipped {
			return true
		}
	}
	for _, o := range r.Outcomes {
		if o.Err != nil {
			return true
		}
	}
	return false
}

const defaultRetention = 30 * 24 * time.Hour

// Run performs one full sync of the pair.
func (p *Pair) Run(ctx context.Context) (*Report, error) { return p.run(ctx, nil) }

// RunScope syncs only the paths in scope (see Scope): the continuous agent's
// cycle after a watcher or poller saw them change, so that the cost of one
// change does not grow with the size of the tree. If a side's root is
// missing it falls back to a full run, whose guards then apply.
func (p *Pair) RunScope(ctx context.Context, scope []Scope) (*Report, error) {
	if scope == nil {
		scope = []Scope{}
	}
	return p.run(ctx, scope)
}

// run syncs the whole tree (scope nil) or the given scope.
func (p *Pair) run(ctx context.Context, scope []Scope) (*Report, error) {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	rep := &Report{DryRun: p.DryRun, Started: p.Now()}
	defer func() { rep.Duration = p.Now().Sub(rep.Started) }()
	sides := [2]connectors.Connector{p.Local, p.Remote}
	filter, err := p.filter(ctx)
	if err != nil {
		return rep, err
	}
	ruleSets, err := p.ruleSets()
	if err != nil {
		return rep, err
	}
	hashType := p.hashType()

	if !p.DryRun {
		n, err := p.recover(ctx, sides)
		if err != nil {
			return rep, err
		}
		rep.Recovered = n
		if scope == nil {
			p.purgeTrash(sides)
		}
	}

	var g *gathered
	if scope != nil {
		g, err = p.gatherScope(ctx, sides, filter, hashType, scope)
	}
	if g == nil && err == nil {
		g, err = p.gatherAll(ctx, sides, filter, hashType)
	}
	if err != nil {
		return rep, err
	}
	base, lists, files := g.base, g.lists, g.files
	for s := range sides {
		rep.Problems = append(rep.Problems, lists[s].problems...)
	}

	in := reconcile.Input{Base: base, Local: lists[0].entries, Remote: lists[1].entries, Now: p.Now(), Options: p.options(sides)}
	drop := p.check(lists, base, ruleSets, rep)
	dropPaths(&in, drop)
	plan := reconcile.Reconcile(in)
	if len(plan.NeedHash) > 0 {
		// Size and time could not decide some paths: hash them and plan again.
		names := [2]map[string]string{lists[0].names, lists[1].names}
		if err := p.fillHashes(ctx, &in, plan.NeedHash, sides, names, hashType); err != nil {
			return rep, err
		}
		plan = reconcile.Reconcile(in)
	}
	keepFolders(&plan, lists, rep)
	rep.Plan = plan
	if err := p.checkDeletes(plan, files); err != nil {
		return rep, err
	}
	if p.Planned != nil {
		p.Planned(plan)
	}
	if p.DryRun {
		return rep, nil
	}
	if err := p.saveMeta(ctx, hashType); err != nil {
		return rep, err
	}
	x := &transfer.Executor{Sides: sides, DB: p.DB, Hash: hashType, Workers: p.Workers, Log: p.Log, Progress: p.Progress, BeforeWrite: p.BeforeWrite,
		Names:  [2]map[string]string{lists[0].names, lists[1].names},
		Listed: [2]map[string]connectors.Entry{lists[0].entries, lists[1].entries}}
	res, err := x.Apply(ctx, plan)
	if res != nil {
		rep.Outcomes = res.Outcomes
	}
	return rep, err
}

// gathered is what a run plans from: the base and both sides' listings
// (of the whole tree, or of a scope), and the number of synced files.
type gathered struct {
	base  map[string]reconcile.Base
	lists [2]*listing
	files int
}

// gatherAll reads the whole base and lists both sides, applying the guards
// against a missing or emptied root.
func (p *Pair) gatherAll(ctx context.Context, sides [2]connectors.Connector, filter *rules.Filter, hashType connectors.HashType) (*gathered, error) {
	// Size the maps from the base once; then read the base and list both
	// sides at the same time.
	nFiles, nDirs, err := p.DB.BaseCount(ctx)
	if err != nil {
		return nil, err
	}
	hint := nFiles + nDirs
	var (
		base    map[string]reconcile.Base
		files   int
		baseErr error
		lists   [2]*listing
		scanErr [2]error
		wg      sync.WaitGroup
	)
	wg.Go(func() { base, files, baseErr = p.loadBase(ctx, hashType, hint) })
	for s := range sides {
		wg.Go(func() {
			lists[s], scanErr[s] = p.scan(ctx, sides[s], reconcile.Side(s), filter, hint)
		})
	}
	wg.Wait()
	if baseErr != nil {
		return nil, baseErr
	}
	for s, err := range scanErr {
		if err == nil {
			continue
		}
		side := reconcile.Side(s)
		if !connectors.IsNotFound(err) {
			return nil, fmt.Errorf("list %s side %s: %w", side, p.name(side), err)
		}
		if files > 0 && !p.Force {
			return nil, &GuardError{Reason: fmt.Sprintf(
				"the %s folder %s does not exist, but %d files were synced with it before. "+
					"Refusing to treat that as deleting everything: if it is a disk or share that is not mounted, mount it and run again. "+
					"If you removed it on purpose, run again with --force (deleted files go to the trash of the other side where it has one).",
				side, p.name(side), files)}
		}
		if !p.DryRun {
			if _, err := sides[s].Mkdir(ctx, ""); err != nil {
				return nil, fmt.Errorf("create %s folder %s: %w", side, p.name(side), err)
			}
		}
		lists[s] = newListing(0)
	}
	for s := range sides {
		if files > 0 && countFiles(lists[s].entries) == 0 && !p.Force {
			side := reconcile.Side(s)
			return nil, &GuardError{Reason: fmt.Sprintf(
				"the %s folder %s is empty, but %d files were synced with it before. "+
					"Refusing to delete them all on the other side: if a disk is not mounted, mount it and run again; "+
					"if you emptied the folder on purpose, run again with --force.", side, p.name(side), files)}
		}
	}

	return &gathered{base: base, lists: lists, files: files}, nil
}

// options completes the reconciler's options with what the connectors
// know about themselves: whether their Rev tracks the content. (Their time
// precision is not passed on: every connector lists the time it stored, so
// exact comparison is right, and a coarse precision would let two
// different new files of equal size, written within the same second, pass
// as equal on a first merge.)
func (p *Pair) options(sides [2]connectors.Connector) reconcile.Options {
	o := p.Options
	for s, c := range sides {
		o.RevTracksContent[s] = o.RevTracksContent[s] || c.Features().RevTracksContent
	}
	return o
}

func (p *Pair) name(s reconcile.Side) string {
	if s == reconcile.Local {
		return p.LocalName
	}
	return p.RemoteName
}

// hashType picks the content hash both sides are compared with: the
// remote's own where it has one (free in its listings), else SHA-256.
func (p *Pair) hashType() connectors.HashType {
	h := p.Remote.Features().Hash
	if _, err := connectors.NewHash(h); err == nil {
		return h
	}
	return connectors.SHA256
}

// recover cleans up after a run that was interrupted (killed, power loss):
// each unfinished intent's debris is removed, then the intent dropped. The
// full scan that follows puts everything else right.
func (p *Pair) recover(ctx context.Context, sides [2]connectors.Connector) (int, error) {
	intents, err := p.DB.Intents(ctx)
	if err != nil || len(intents) == 0 {
		return 0, err
	}
	for _, in := range intents {
		for _, s := range sides {
			if r, ok := s.(connectors.Recoverer); ok {
				for _, path := range []string{in.Path, in.Dest} {
					if path == "" {
						continue
					}
					if err := r.Recover(ctx, path); err != nil && !connectors.IsNotFound(err) {
						p.Log.Warn("cleanup after interrupted run failed", "path", path, "err", err)
					}
				}
			}
		}
	}
	err = p.DB.Update(ctx, func(tx *statedb.Tx) error {
		for _, in := range intents {
			if err := tx.DoneIntent(in.ID); err != nil {
				return err
			}
		}
		return nil
	})
	p.Log.Info("resumed after an interrupted run", "unfinished", len(intents))
	return len(intents), err
}

func (p *Pair) purgeTrash(sides [2]connectors.Connector) {
	ret := p.TrashRetention
	if ret <= 0 {
		ret = defaultRetention
	}
	for _, s := range sides {
		if t, ok := s.(TrashPurger); ok {
			if n, err := t.PurgeTrash(p.Now().Add(-ret)); err != nil {
				p.Log.Warn("purging old trash failed", "err", err)
			} else if n > 0 {
				p.Log.Info("purged old trash", "runs", n, "older than", ret.String())
			}
		}
	}
}

// loadBase reads the base tree; it returns the number of files in it.
func (p *Pair) loadBase(ctx context.Context, hashType connectors.HashType, hint int) (map[string]reconcile.Base, int, error) {
	prev, _, err := p.DB.Meta(ctx, "hash_type")
	if err != nil {
		return nil, 0, err
	}
	keepHash := prev == string(hashType)
	base := make(map[string]reconcile.Base, hint)
	files := 0
	err = p.DB.LoadBase(ctx, func(e statedb.Entry) error {
		b := transfer.ToBase(e)
		if !keepHash {
			b.Hash = ""
		}
		base[e.Path] = b
		if !e.Dir {
			files++
		}
		return nil
	})
	return base, files, err
}

// saveMeta records which hash type the base holds. It writes (and so
// syncs the state file) only when that changed: a run that changes nothing
// writes nothing.
func (p *Pair) saveMeta(ctx context.Context, hashType connectors.HashType) error {
	if prev, ok, err := p.DB.Meta(ctx, "hash_type"); err != nil || (ok && prev == string(hashType)) {
		return err
	}
	return p.DB.Update(ctx, func(tx *statedb.Tx) error { return tx.SetMeta("hash_type", string(hashType)) })
}

// fillHashes computes the content hashes the reconciler asked for.
func (p *Pair) fillHashes(ctx context.Context, in *reconcile.Input, reqs []reconcile.HashRequest, sides [2]connectors.Connector, names [2]map[string]string, t connectors.HashType) error {
	type job struct {
		side reconcile.Side
		path string
	}
	var jobs []job
	for _, r := range reqs {
		if r.Local {
			jobs = append(jobs, job{reconcile.Local, r.Path})
		}
		if r.Remote {
			jobs = append(jobs, job{reconcile.Remote, r.Path})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	sums := make([]string, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(p.Workers, 2))
	for i, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			path := j.path
			if n, ok := names[j.side][path]; ok {
				path = n
			}
			sums[i], errs[i] = connectors.HashOf(ctx, sides[j.side], path, t)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, j := range jobs {
		m := in.Local
		if j.side == reconcile.Remote {
			m = in.Remote
		}
		if errs[i] != nil {
			// Without a hash the reconciler errs on the safe side (a
			// conflict keeps both versions); report why.
			p.Log.Warn("could not hash file", "side", j.side.String(), "path", j.path, "err", errs[i])
			continue
		}
		e := m[j.path]
		e.Hash = sums[i]
		m[j.path] = e
	}
	return nil
}

// checkDeletes refuses a plan that deletes more than MaxDelete percent of
// the synced files, unless forced.
func (p *Pair) checkDeletes(plan reconcile.Plan, files int) error {
	if p.Force || files == 0 {
		return nil
	}
	limit := p.MaxDelete
	switch {
	case limit == 0:
		limit = 50
	case limit < 0:
		limit = 0 // no deletes at all
	}
	if limit >= 100 {
		return nil
	}
	var n [2]int
	for _, a := range plan.Actions {
		if a.Op == reconcile.OpDelete && !a.Dir {
			n[a.Side]++
		}
	}
	for s, d := range n {
		if d*100 > limit*files {
			return &GuardError{Reason: fmt.Sprintf(
				"this run would delete %d of %d synced files (%d%%) on the %s side %s, more than the limit of %d%%. "+
					"Nothing was changed. Check with --dry-run what would be deleted; if it is what you want, run again with --force or a higher --max-delete.",
				d, files, d*100/files, reconcile.Side(s), p.name(reconcile.Side(s)), limit)}
		}
	}
	return nil
}

func countFiles(m map[string]connectors.Entry) int {
	n := 0
	for _, e := range m {
		if !e.IsDir() {
			n++
		}
	}
	return n
}

// IsGuard reports whether err is a refusal by a safety guard.
func IsGuard(err error) bool {
	var g *GuardError
	return errors.As(err, &g)
}
