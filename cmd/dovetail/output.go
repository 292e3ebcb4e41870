package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/agent/transfer"
	"github.com/dovetail-sync/dovetail/connectors"
)

// verb names an action as a user thinks of it.
func verb(a reconcile.Action) string {
	switch a.Op {
	case reconcile.OpCopy:
		if a.Side == reconcile.Remote {
			return "upload"
		}
		return "download"
	case reconcile.OpDelete:
		return "delete " + a.Side.String()
	case reconcile.OpMove:
		return "move " + a.Side.String()
	case reconcile.OpMkdir:
		return "mkdir " + a.Side.String()
	}
	return a.Op.String()
}

// counts tallies what a run did (or would do).
type counts struct {
	Uploaded      int   `json:"uploaded"`
	Downloaded    int   `json:"downloaded"`
	DeletedLocal  int   `json:"deleted_local"`
	DeletedRemote int   `json:"deleted_remote"`
	MovedLocal    int   `json:"moved_local"`
	MovedRemote   int   `json:"moved_remote"`
	FoldersMade   int   `json:"folders_created"`
	Conflicts     int   `json:"conflicts"`
	Skipped       int   `json:"skipped"`
	Failed        int   `json:"failed"`
	Bytes         int64 `json:"bytes"`
}

func (c *counts) add(a reconcile.Action) {
	switch a.Op {
	case reconcile.OpCopy:
		if a.Side == reconcile.Remote {
			c.Uploaded++
		} else {
			c.Downloaded++
		}
	case reconcile.OpDelete:
		if a.Side == reconcile.Local {
			c.DeletedLocal++
		} else {
			c.DeletedRemote++
		}
	case reconcile.OpMove:
		if a.Conflict != nil {
			return
		}
		if a.Side == reconcile.Local {
			c.MovedLocal++
		} else {
			c.MovedRemote++
		}
	case reconcile.OpMkdir:
		c.FoldersMade++
	}
}

func tally(rep *engine.Report) counts {
	var c counts
	if rep.DryRun {
		for _, a := range rep.Plan.Actions {
			c.add(a)
		}
	} else {
		for _, o := range rep.Outcomes {
			if o.Err != nil {
				c.Failed++
				continue
			}
			c.add(o.Action)
			c.Bytes += o.Bytes
		}
	}
	c.Conflicts = len(rep.Plan.Conflicts)
	for _, p := range rep.Problems {
		if p.Skipped {
			c.Skipped++
		} else {
			c.Failed++
		}
	}
	return c
}

func printReport(w io.Writer, rep *engine.Report, localName, remoteName string) {
	c := tally(rep)
	if rep.Recovered > 0 {
		fmt.Fprintf(w, "Resumed after an interrupted run (%s cleaned up).\n", plural(rep.Recovered, "unfinished write"))
	}
	if rep.DryRun {
		fmt.Fprintf(w, "Dry run of %s <-> %s: nothing was changed.\n", localName, remoteName)
		for _, a := range rep.Plan.Actions {
			if a.Op == reconcile.OpRecord || a.Op == reconcile.OpForget {
				continue
			}
			target := a.Path
			if a.Op == reconcile.OpMove {
				target = a.From + " -> " + a.Path
			}
			fmt.Fprintf(w, "  would %-15s %s  (%s)\n", verb(a), target, a.Reason)
		}
	}
	var parts []string
	add := func(n int, done, planned string) {
		if n == 0 {
			return
		}
		if rep.DryRun {
			done = planned
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, done))
	}
	add(c.Uploaded, "uploaded", "to upload")
	add(c.Downloaded, "downloaded", "to download")
	add(c.DeletedLocal, "deleted locally", "to delete locally")
	add(c.DeletedRemote, "deleted remotely", "to delete remotely")
	add(c.MovedLocal+c.MovedRemote, "moved", "to move")
	add(c.FoldersMade, "folders created", "folders to create")
	if c.Conflicts > 0 {
		parts = append(parts, plural(c.Conflicts, "conflict"))
	}
	what := "already in sync"
	switch {
	case len(parts) > 0:
		what = strings.Join(parts, ", ")
	case c.Failed > 0 && !rep.DryRun:
		what = "nothing to do apart from what failed (below)"
	case c.Failed > 0:
		what = "nothing to do apart from the problems below"
	}
	if c.Bytes > 0 {
		what += fmt.Sprintf(" (%s transferred)", humanBytes(c.Bytes))
	}
	head := "Synced"
	if rep.DryRun {
		head = "Would sync"
	}
	fmt.Fprintf(w, "%s %s <-> %s in %s: %s.\n", head, localName, remoteName, rep.Duration.Round(time.Millisecond), what)
	for _, k := range rep.Plan.Conflicts {
		fmt.Fprintf(w, "Conflict: %s changed on both sides; the %s version stays, the %s version is kept as %s\n",
			k.Path, k.Kept, k.Kept.Other(), k.RevisionPath)
	}
	printProblems(w, rep)
	if rep.Failed() && !rep.DryRun {
		fmt.Fprintln(w, "Not everything is in sync: fix the paths listed above and run again; everything else was synced.")
	}
}

func printProblems(w io.Writer, rep *engine.Report) {
	for _, p := range rep.Problems {
		label := "Failed"
		if p.Skipped {
			label = "Skipped"
		}
		fmt.Fprintf(w, "%s: %s (%s): %v%s\n", label, p.Path, p.Side, p.Err, problemHint(p.Err))
	}
	for _, o := range rep.Outcomes {
		if o.Err != nil {
			fmt.Fprintf(w, "Failed: %s %s: %v%s\n", verb(o.Action), o.Action.Path, o.Err, hint(o.Err))
		}
	}
}

// hint tells the user what to do about an error kind.
func hint(err error) string {
	switch connectors.KindOf(err) {
	case connectors.Permission:
		return " (check the permissions of the file and its folder)"
	case connectors.NoSpace:
		return " (free some space at the destination, then run again)"
	case connectors.Invalid:
		return " (rename the file: the destination cannot store this name or size)"
	case connectors.Transient, connectors.RateLimited:
		return " (a temporary problem: it is retried on the next run)"
	}
	return ""
}

// problemHint tells the user what to do about a path that could not be
// listed.
func problemHint(err error) string {
	switch connectors.KindOf(err) {
	case connectors.Invalid:
		return " (only regular files and folders are synced: remove it, or exclude it with --exclude)"
	case connectors.Unimplemented:
		return " (exclude it with --exclude to silence this)"
	case connectors.Permission:
		return " (check its permissions; nothing inside it is changed on either side until it can be read)"
	}
	return hint(err)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// jsonReport is the --json output. Field names are a stable contract.
type jsonReport struct {
	Local      string         `json:"local"`
	Remote     string         `json:"remote"`
	DryRun     bool           `json:"dry_run"`
	InSync     bool           `json:"in_sync"`
	ExitCode   int            `json:"exit_code"`
	Error      string         `json:"error,omitempty"`
	DurationMS int64          `json:"duration_ms"`
	Recovered  int            `json:"recovered_intents,omitempty"`
	Summary    counts         `json:"summary"`
	Actions    []jsonAction   `json:"actions"`
	Conflicts  []jsonConflict `json:"conflicts"`
	Problems   []jsonProblem  `json:"problems"`
}

type jsonAction struct {
	Op     string `json:"op"`
	Side   string `json:"side"`
	Path   string `json:"path"`
	From   string `json:"from,omitempty"`
	Reason string `json:"reason"`
	Bytes  int64  `json:"bytes,omitempty"`
	Error  string `json:"error,omitempty"`
}

type jsonConflict struct {
	Path     string `json:"path"`
	Revision string `json:"revision"`
	Kept     string `json:"kept"`
	Reason   string `json:"reason"`
}

type jsonProblem struct {
	Side    string `json:"side"`
	Path    string `json:"path"`
	Rule    string `json:"rule,omitempty"`
	Skipped bool   `json:"skipped"`
	Error   string `json:"error"`
}

func writeJSON(w io.Writer, rep *engine.Report, localName, remoteName string, runErr error, code int) {
	out := jsonReport{Local: localName, Remote: remoteName, ExitCode: code, InSync: code == exitOK && (rep == nil || !rep.DryRun),
		Actions: []jsonAction{}, Conflicts: []jsonConflict{}, Problems: []jsonProblem{}}
	if runErr != nil {
		out.Error = runErr.Error()
		out.InSync = false
	}
	if rep != nil {
		out.DryRun = rep.DryRun
		out.DurationMS = rep.Duration.Milliseconds()
		out.Recovered = rep.Recovered
		out.Summary = tally(rep)
		if rep.DryRun || runErr != nil {
			for _, a := range rep.Plan.Actions {
				if a.Op != reconcile.OpRecord && a.Op != reconcile.OpForget {
					out.Actions = append(out.Actions, jsonAction{Op: verb(a), Side: a.Side.String(), Path: a.Path, From: a.From, Reason: a.Reason})
				}
			}
			if rep.DryRun {
				out.InSync = len(out.Actions) == 0 && !rep.Failed()
			}
		} else {
			for _, o := range rep.Outcomes {
				a := o.Action
				if a.Op == reconcile.OpRecord || a.Op == reconcile.OpForget {
					continue
				}
				ja := jsonAction{Op: verb(a), Side: a.Side.String(), Path: a.Path, From: a.From, Reason: a.Reason, Bytes: o.Bytes}
				if o.Err != nil {
					ja.Error = o.Err.Error()
				}
				out.Actions = append(out.Actions, ja)
			}
		}
		for _, k := range rep.Plan.Conflicts {
			out.Conflicts = append(out.Conflicts, jsonConflict{Path: k.Path, Revision: k.RevisionPath, Kept: k.Kept.String(), Reason: k.Reason})
		}
		for _, p := range rep.Problems {
			out.Problems = append(out.Problems, jsonProblem{Side: p.Side.String(), Path: p.Path, Rule: p.Rule, Skipped: p.Skipped, Error: p.Err.Error()})
		}
		sort.SliceStable(out.Problems, func(i, j int) bool { return out.Problems[i].Path < out.Problems[j].Path })
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

func writeJSONError(w io.Writer, err error, code int) {
	writeJSON(w, nil, "", "", err, code)
}

// progress draws a one-line status on a terminal during long runs.
type progress struct {
	w       io.Writer
	on      bool
	mu      sync.Mutex
	total   int
	steps   int
	bytes   int64
	started time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newProgress(w io.Writer, enabled bool) *progress {
	p := &progress{w: w, started: time.Now()}
	if f, ok := w.(*os.File); ok && enabled {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) planned(plan reconcile.Plan) {
	p.mu.Lock()
	for _, a := range plan.Actions {
		if a.Op != reconcile.OpRecord && a.Op != reconcile.OpForget {
			p.total++
		}
	}
	p.mu.Unlock()
	if !p.on || p.total == 0 {
		return
	}
	p.stop = make(chan struct{})
	p.wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				fmt.Fprintf(p.w, "\r\033[K%d/%d steps, %s", p.steps, p.total, humanBytes(p.bytes))
				p.mu.Unlock()
			}
		}
	})
}

func (p *progress) step(o transfer.Outcome) {
	p.mu.Lock()
	if o.Action.Op != reconcile.OpRecord && o.Action.Op != reconcile.OpForget {
		p.steps++
	}
	p.bytes += o.Bytes
	p.mu.Unlock()
}

func (p *progress) done() {
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		fmt.Fprint(p.w, "\r\033[K")
	}
}
