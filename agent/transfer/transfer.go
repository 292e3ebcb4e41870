// Package transfer is the executor: it applies a reconcile.Plan to the two
// sides of a pair and records every completed step in the state DB.
//
// Safety rules it keeps:
//   - every write is conditional on the destination still being as listed
//     (Action.IfRev / IfAbsent), so a change made during the run is never
//     overwritten;
//   - copies are verified (byte count, and content hash where the
//     destination reports one) before they count as done;
//   - deleted and overwritten files go to the side's trash when it has one;
//   - an intent is committed before each batch of writes, so a process
//     killed at any instant leaves debris that the next run cleans up, and
//     never a partial file under a real name;
//   - a failed step never stops the others; a failed move skips the steps
//     that depended on it.
package transfer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/statedb"
)

// Executor applies plans. Its fields are set once before use.
type Executor struct {
	// Sides holds the local and remote connectors, indexed by reconcile.Side.
	Sides [2]connectors.Connector
	DB    *statedb.DB
	// Hash is the pair's content hash type, computed while copying and kept
	// in the base.
	Hash connectors.HashType
	// Workers bounds concurrent copies (default 4).
	Workers int
	Log     *slog.Logger
	// Progress, if set, is called after each step (from several goroutines).
	Progress func(Outcome)
	// BeforeWrite, if set, is called just before a file is written at path
	// on side with this size and modification time (from several
	// goroutines), so a watcher of that side can tell the write from a
	// user's change.
	BeforeWrite func(side reconcile.Side, path string, size int64, mtime time.Time)
	// BatchSize is the number of steps recorded per state transaction
	// (default 512).
	BatchSize int
	// Names maps, per side, a plan path (the NFC key) to the name the path
	// actually has on that side where the two differ (an NFD name written
	// by macOS). Paths not in it are used as they are.
	Names [2]map[string]string
	// Listed holds each side's listing by plan path, so that a path listed
	// under its own (NFC) name is known to exist with that name.
	Listed [2]map[string]connectors.Entry
}

// actual returns the name path has, or will get, on side s: its own name
// where it exists, else its parent's actual name there joined with the
// spelling of the side it comes from, so a copy never creates an NFC twin
// of an NFD folder.
func (x *Executor) actual(s reconcile.Side, key string) string {
	if key == "" || (len(x.Names[0]) == 0 && len(x.Names[1]) == 0) {
		return key
	}
	if n, ok := x.Names[s][key]; ok {
		return n
	}
	if _, ok := x.Listed[s][key]; ok {
		return key
	}
	name := connectors.Base(key)
	if n, ok := x.Names[s.Other()][key]; ok {
		name = connectors.Base(n)
	}
	return connectors.Join(x.actual(s, connectors.Parent(key)), name)
}

// Outcome is the result of one action.
type Outcome struct {
	Action reconcile.Action
	Err    error
	Bytes  int64
}

// Result lists what Apply did.
type Result struct {
	Outcomes []Outcome
}

// Failed returns the outcomes with an error.
func (r *Result) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if o.Err != nil {
			out = append(out, o)
		}
	}
	return out
}

// Apply runs the plan's actions in order, phase by phase. It returns an
// error only for a failure of the whole run (the state DB failing, the
// context cancelled); per-path failures are in the Result.
func (x *Executor) Apply(ctx context.Context, plan reconcile.Plan) (*Result, error) {
	if x.Workers <= 0 {
		x.Workers = 4
	}
	if x.BatchSize <= 0 {
		x.BatchSize = 512
	}
	if x.Log == nil {
		x.Log = slog.New(slog.DiscardHandler)
	}
	r := &run{x: x, res: &Result{}}
	acts := plan.Actions
	for len(acts) > 0 {
		// A phase is a run of actions with the same op; copies run in
		// parallel, everything else in order.
		n := 1
		for n < len(acts) && acts[n].Op == acts[0].Op {
			n++
		}
		phase := acts[:n]
		acts = acts[n:]
		for len(phase) > 0 {
			if err := ctx.Err(); err != nil {
				return r.res, err
			}
			m := min(len(phase), x.BatchSize)
			if err := r.batch(ctx, phase[:m]); err != nil {
				return r.res, err
			}
			phase = phase[m:]
		}
	}
	return r.res, nil
}

type run struct {
	x   *Executor
	res *Result
	mu  sync.Mutex
	// failedMoves holds the source and target of moves that failed: steps
	// inside them are skipped.
	failedMoves []string
}

// step is one action's outcome plus the state change it implies.
type step struct {
	Outcome
	write func(tx *statedb.Tx) error
	dirty [2]bool // a side was written (needs Sync before the commit)
}

// batch runs a slice of same-op actions: intents first, then the actions,
// then one transaction recording the results and clearing the intents.
func (r *run) batch(ctx context.Context, acts []reconcile.Action) error {
	x := r.x
	var ids []int64
	if acts[0].Op != reconcile.OpRecord && acts[0].Op != reconcile.OpForget {
		err := x.DB.Update(ctx, func(tx *statedb.Tx) error {
			now := time.Now()
			for _, a := range acts {
				id, err := tx.AddIntent(statedb.Intent{Time: now, Op: a.Op.String(), Side: a.Side.String(), Path: a.Path, Dest: a.From})
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("record intents: %w", err)
		}
	}
	steps := make([]step, len(acts))
	if acts[0].Op == reconcile.OpCopy && len(acts) > 1 {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(x.Workers, len(acts)) {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(acts) || ctx.Err() != nil {
						return
					}
					steps[i] = r.do(ctx, acts[i])
				}
			})
		}
		wg.Wait()
	} else {
		for i, a := range acts {
			if ctx.Err() != nil {
				break
			}
			steps[i] = r.do(ctx, a)
		}
	}
	// Make what the connectors wrote durable before the base says so.
	var dirty [2]bool
	for _, s := range steps {
		dirty[0] = dirty[0] || s.dirty[0]
		dirty[1] = dirty[1] || s.dirty[1]
	}
	for side, d := range dirty {
		if sy, ok := x.Sides[side].(connectors.Syncer); ok && d {
			if err := sy.Sync(ctx); err != nil {
				return fmt.Errorf("flush %s side: %w", reconcile.Side(side), err)
			}
		}
	}
	err := x.DB.Update(ctx, func(tx *statedb.Tx) error {
		now := time.Now()
		for _, s := range steps {
			if s.Action.Op == 0 { // not run (cancelled)
				continue
			}
			if s.Err == nil && s.write != nil {
				if err := s.write(tx); err != nil {
					return err
				}
			}
			if s.Action.Op == reconcile.OpRecord || s.Action.Op == reconcile.OpForget {
				continue
			}
			h := statedb.HistoryRecord{Time: now, Op: s.Action.Op.String(), Side: s.Action.Side.String(),
				Path: s.Action.Path, Dest: s.Action.From, Size: s.Bytes}
			if s.Err != nil {
				h.Err = s.Err.Error()
			}
			if err := tx.AddHistory(h); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if err := tx.DoneIntent(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record results: %w", err)
	}
	for _, s := range steps {
		if s.Action.Op != 0 {
			r.res.Outcomes = append(r.res.Outcomes, s.Outcome)
		}
	}
	return ctx.Err()
}

// skipped reports whether a depends on a move that failed.
func (r *run) skipped(a reconcile.Action) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.failedMoves {
		if connectors.Within(a.Path, p) || (a.From != "" && connectors.Within(a.From, p)) {
			return fmt.Errorf("skipped: the move of %q failed", p)
		}
	}
	return nil
}

func (r *run) do(ctx context.Context, a reconcile.Action) step {
	s := r.exec(ctx, a)
	s.Action = a
	if s.Err != nil {
		r.x.Log.Warn("step failed", "op", a.Op.String(), "side", a.Side.String(), "path", a.Path, "err", s.Err)
		if a.Op == reconcile.OpMove {
			r.mu.Lock()
			r.failedMoves = append(r.failedMoves, a.From, a.Path)
			r.mu.Unlock()
		}
	} else {
		r.x.Log.Debug("step done", "op", a.Op.String(), "side", a.Side.String(), "path", a.Path)
	}
	if r.x.Progress != nil {
		r.x.Progress(s.Outcome)
	}
	return s
}

func (r *run) exec(ctx context.Context, a reconcile.Action) step {
	if err := r.skipped(a); err != nil {
		return step{Outcome: Outcome{Err: err}}
	}
	c := r.x.Sides[a.Side]
	var st step
	switch a.Op {
	case reconcile.OpMove:
		st.dirty[a.Side] = true
		e, err := connectors.Move(ctx, c, r.x.actual(a.Side, a.From), r.x.actual(a.Side, a.Path))
		if err != nil {
			st.Err = err
			return st
		}
		from, conflict := a.From, a.Conflict
		st.write = func(tx *statedb.Tx) error {
			if err := tx.DeleteBaseUnder(from); err != nil {
				return err
			}
			if conflict != nil {
				_, err := tx.AddConflict(statedb.Conflict{Time: time.Now(), Path: conflict.Path, RevisionPath: conflict.RevisionPath,
					KeptSide: conflict.Kept.String(), RevisionSide: conflict.Kept.Other().String(), Reason: conflict.Reason})
				return err
			}
			return nil
		}
		_ = e
	case reconcile.OpDelete:
		st.dirty[a.Side] = true
		err := connectors.Remove(ctx, c, r.x.actual(a.Side, a.Path), a.Dir, a.IfRev)
		switch {
		case connectors.IsNotFound(err):
			err = nil // gone already: the goal is met
		case a.Dir && connectors.KindOf(err) == connectors.Precondition:
			err = fmt.Errorf("folder %q not deleted on the %s side: it still holds files that are excluded or could not be synced: %w", a.Path, a.Side, err)
		}
		st.Err = err
		path, dir := a.Path, a.Dir
		st.write = func(tx *statedb.Tx) error {
			if dir {
				return tx.DeleteBaseUnder(path)
			}
			return tx.DeleteBase(path)
		}
	case reconcile.OpMkdir:
		st.dirty[a.Side] = true
		e, err := c.Mkdir(ctx, r.x.actual(a.Side, a.Path))
		if err != nil {
			st.Err = err
			return st
		}
		other := entryOf(a, a.Side.Other())
		if other == nil {
			return st // the other side gets it later (it is being created there too)
		}
		var ent [2]*connectors.Entry
		ent[a.Side], ent[a.Side.Other()] = &e, other
		b := baseFrom(a.Path, ent, "")
		st.write = func(tx *statedb.Tx) error { return tx.PutBase(b) }
	case reconcile.OpCopy:
		st.dirty[a.Side] = true
		b, n, err := r.copy(ctx, a)
		st.Bytes = n
		if err != nil {
			st.Err = err
			return st
		}
		st.write = func(tx *statedb.Tx) error { return tx.PutBase(b) }
	case reconcile.OpRecord:
		var b statedb.Entry
		if a.Base != nil {
			b = toDB(*a.Base)
		} else {
			b = baseFrom(a.Path, [2]*connectors.Entry{a.Local, a.Remote}, hashOf(a.Local, a.Remote))
		}
		st.write = func(tx *statedb.Tx) error { return tx.PutBase(b) }
	case reconcile.OpForget:
		path, dir := a.Path, a.Dir
		st.write = func(tx *statedb.Tx) error {
			if dir {
				return tx.DeleteBaseUnder(path)
			}
			return tx.DeleteBase(path)
		}
	}
	return st
}

// copy transfers the file a.Path from the other side to a.Side, hashing
// what it reads, and returns the new base entry.
func (r *run) copy(ctx context.Context, a reconcile.Action) (statedb.Entry, int64, error) {
	srcSide := a.Side.Other()
	src, dst := r.x.Sides[srcSide], r.x.Sides[a.Side]
	srcPath, dstPath := r.x.actual(srcSide, a.Path), r.x.actual(a.Side, a.Path)
	se := entryOf(a, srcSide)
	if se == nil {
		e, err := src.Stat(ctx, srcPath)
		if err != nil {
			return statedb.Entry{}, 0, err
		}
		se = &e
	}
	if se.IsDir() {
		return statedb.Entry{}, 0, &connectors.Error{Kind: connectors.Exists, Op: "copy", Path: a.Path, Err: errors.New("source became a folder")}
	}
	rd, err := src.Open(ctx, srcPath, 0, -1)
	if err != nil {
		return statedb.Entry{}, 0, err
	}
	defer rd.Close()
	var h hash.Hash
	if r.x.Hash != connectors.HashNone {
		h, _ = connectors.NewHash(r.x.Hash)
	}
	cr := &countingReader{r: rd, h: h}
	if r.x.BeforeWrite != nil {
		r.x.BeforeWrite(a.Side, dstPath, se.Size, se.ModTime)
	}
	de, err := dst.Put(ctx, dstPath, cr, connectors.PutOptions{ModTime: se.ModTime, Size: se.Size, IfRev: a.IfRev, IfAbsent: a.IfAbsent})
	if err != nil {
		if connectors.KindOf(err) == connectors.Precondition {
			err = fmt.Errorf("%w (changed on the %s side during the sync; it will be looked at again next run)", err, a.Side)
		}
		return statedb.Entry{}, cr.n, err
	}
	sum := ""
	if h != nil {
		sum = hex.EncodeToString(h.Sum(nil))
	}
	if de.Size != se.Size {
		return statedb.Entry{}, cr.n, &connectors.Error{Kind: connectors.Transient, Op: "verify", Path: a.Path,
			Err: fmt.Errorf("wrote %d bytes but the %s side reports %d", se.Size, a.Side, de.Size)}
	}
	if de.Hash != "" && sum != "" && dst.Features().Hash == r.x.Hash && de.Hash != sum {
		return statedb.Entry{}, cr.n, &connectors.Error{Kind: connectors.Transient, Op: "verify", Path: a.Path,
			Err: fmt.Errorf("content hash mismatch after upload")}
	}
	var ent [2]*connectors.Entry
	ent[srcSide], ent[a.Side] = se, &de
	return baseFrom(a.Path, ent, sum), cr.n, nil
}

type countingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		if c.h != nil {
			c.h.Write(p[:n])
		}
	}
	return n, err
}

func entryOf(a reconcile.Action, s reconcile.Side) *connectors.Entry {
	if s == reconcile.Local {
		return a.Local
	}
	return a.Remote
}

func hashOf(l, r *connectors.Entry) string {
	if l != nil && l.Hash != "" {
		return l.Hash
	}
	if r != nil {
		return r.Hash
	}
	return ""
}

// baseFrom builds the base row for path from both sides' entries.
func baseFrom(path string, e [2]*connectors.Entry, sum string) statedb.Entry {
	l, r := e[reconcile.Local], e[reconcile.Remote]
	return statedb.Entry{
		Path: path, Dir: l.IsDir(), Size: l.Size, Hash: sum,
		LocalModTime: l.ModTime, LocalID: l.ID, LocalRev: l.Rev,
		RemoteModTime: r.ModTime, RemoteID: r.ID, RemoteRev: r.Rev,
	}
}

// ToBase converts a state row to the reconciler's base entry.
func ToBase(e statedb.Entry) reconcile.Base {
	return reconcile.Base{Path: e.Path, Dir: e.Dir, Size: e.Size, Hash: e.Hash, Meta: [2]reconcile.Meta{
		{ModTime: e.LocalModTime, ID: e.LocalID, Rev: e.LocalRev},
		{ModTime: e.RemoteModTime, ID: e.RemoteID, Rev: e.RemoteRev},
	}}
}

func toDB(b reconcile.Base) statedb.Entry {
	return statedb.Entry{Path: b.Path, Dir: b.Dir, Size: b.Size, Hash: b.Hash,
		LocalModTime: b.Meta[0].ModTime, LocalID: b.Meta[0].ID, LocalRev: b.Meta[0].Rev,
		RemoteModTime: b.Meta[1].ModTime, RemoteID: b.Meta[1].ID, RemoteRev: b.Meta[1].Rev}
}
