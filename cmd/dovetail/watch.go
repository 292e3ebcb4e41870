package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dovetail-sync/dovetail/agent"
	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/connectors/dial"
)

// watchPair keeps the pair in sync until SIGINT or SIGTERM: the
// continuous agent's task loop for one pair given on the command line.
func watchPair(ctx context.Context, o *syncOpts, pair *engine.Pair, rem *dial.Remote, log *slog.Logger, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	spec := agent.Spec{Name: "sync", Pair: pair, Poll: o.poll, Rescan: o.rescan}
	skip := agent.SkipInternal
	spec.Watch[0] = func() (agent.Source, error) { return agent.WatchFolder(pair.LocalName, skip, log) }
	if rem.LocalRoot != "" {
		spec.Watch[1] = func() (agent.Source, error) { return agent.WatchFolder(rem.LocalRoot, skip, log) }
	}
	failed := false
	spec.OnRun = func(rep *engine.Report, full bool, err error) {
		code := exitOK
		switch {
		case err != nil && engine.IsGuard(err):
			code = exitGuard
		case err != nil:
			code = exitError
		case rep.Failed():
			code = exitPartial
		}
		failed = code != exitOK
		if o.json {
			var buf bytes.Buffer
			writeJSON(&buf, rep, pair.LocalName, pair.RemoteName, err, code)
			var line bytes.Buffer
			if json.Compact(&line, buf.Bytes()) == nil {
				line.WriteByte('\n')
				stdout.Write(line.Bytes())
			}
			return
		}
		if err != nil {
			fmt.Fprintf(stderr, "dovetail: %v\n", err)
			if rep != nil {
				printProblems(stdout, rep)
			}
			return
		}
		if len(rep.Outcomes) > 0 || len(rep.Problems) > 0 || full {
			printReport(stdout, rep, pair.LocalName, pair.RemoteName)
		}
	}
	if !o.json {
		fmt.Fprintf(stdout, "Watching %s <-> %s; press Ctrl-C to stop.\n", pair.LocalName, pair.RemoteName)
	}
	t := agent.NewTask(spec, log)
	if err := t.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "dovetail: %v\n", err)
		return exitError
	}
	if !o.json {
		fmt.Fprintln(stdout, "Stopped; the state is saved, and the next run resumes from here.")
	}
	if failed {
		return exitPartial
	}
	return exitOK
}
