package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Exit statuses. Scripts can rely on them.
const (
	exitOK      = 0 // both sides are in sync
	exitError   = 1 // the run failed as a whole (see the message)
	exitUsage   = 2 // bad command line or configuration
	exitGuard   = 3 // a safety guard refused the run; nothing was changed
	exitPartial = 4 // the run finished but some paths failed (listed)
	exitState   = 5 // the state file is damaged, foreign or in use
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Dovetail keeps a local folder and a remote folder identical, in both
directions, without ever losing a version of a file.

Usage:
  dovetail sync [flags] LOCAL REMOTE   sync two folders once and exit (--watch: keep syncing)
  dovetail agent [--config FILE]       run every task of the configuration continuously
  dovetail config validate [FILE]      check a configuration file
  dovetail demo                        sync a demo pair of folders once (nothing to set up)
  dovetail check --for PROVIDER PATH   list paths that could not be synced to PROVIDER, and why
  dovetail status                      show what the running agent's tasks are doing
  dovetail task list|run|pause|resume  list the agent's tasks, run one now, pause or resume one
  dovetail history                     list what the agent did, newest first
  dovetail conflicts                   list the open conflicts
  dovetail reload                      make the agent re-read its configuration
  dovetail version                     print the version
  dovetail help [COMMAND]              show help

REMOTE is a local path or a URL: sftp://user@host/path, s3://bucket/prefix,
webdav+https://user@host/path (see docs/connectors.md).
Run "dovetail help sync" for the flags of sync.

Exit status: 0 in sync, 1 error, 2 usage, 3 refused by a safety guard
(nothing changed), 4 some paths failed (listed), 5 state file problem.
`

// usageError marks a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "sync":
		return runSync(ctx, rest, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "check":
		return runCheck(ctx, rest, stdout, stderr)
	case "status", "history", "conflicts", "reload":
		return runControlCmd(ctx, cmd, rest, stdout, stderr)
	case "task":
		return runTask(ctx, rest, stdout, stderr)
	case "agent":
		return runAgent(ctx, rest, stdout, stderr)
	case "config":
		return runConfig(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "dovetail", version)
		return exitOK
	case "help", "-h", "--help":
		if len(rest) > 0 && rest[0] == "sync" {
			fs, _ := syncFlags(io.Discard)
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		if len(rest) > 0 && (rest[0] == "check" || rest[0] == "demo") {
			return run(ctx, []string{rest[0], "--help"}, stdout, stdout)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = &usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	fmt.Fprintf(stderr, "dovetail: %v\nRun \"dovetail help\" for usage.\n", err)
	return exitUsage
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments ("dovetail sync a b --dry-run").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		args = fs.Args()
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newLogger writes structured logs to w at the given level.
func newLogger(w io.Writer, level string, json bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, &usageError{fmt.Sprintf("--log-level: %q is not one of debug, info, warn, error", level)}
	}
	opts := &slog.HandlerOptions{Level: l}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// printFlags prints a flag set's defaults with GNU-style double dashes,
// as users type them (the flag package accepts both).
func printFlags(fs *flag.FlagSet) {
	var b strings.Builder
	out := fs.Output()
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(out)
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if strings.HasPrefix(line, "  -") {
			line = "  --" + line[3:]
		}
		fmt.Fprint(out, line)
	}
}

func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u) || errors.Is(err, flag.ErrHelp)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, word[:len(word)-1])
	}
	return fmt.Sprintf("%d %ss", n, word)
}
