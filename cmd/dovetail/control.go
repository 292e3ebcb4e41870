package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dovetail-sync/dovetail/agent/api"
)

// controlTimeout bounds one request to the agent: a reload waits for the
// running tasks to stop, everything else answers at once.
const controlTimeout = 2 * time.Minute

// controlOpts are the flags of the commands that talk to the agent.
type controlOpts struct {
	force  bool
	socket string
	json   bool
	task   string
	limit  int
}

// controlCmd is one command that talks to the running agent.
type controlCmd struct {
	name  string // as typed: "status", "task run"
	args  string // positional arguments: "" or "NAME"
	help  string // what it does, for --help
	json  bool   // has --json
	task  bool   // has --task
	limit bool   // has --limit
	force bool   // has --force
	do    func(ctx context.Context, c *api.Client, o *controlOpts, name string, w io.Writer) error
}

const socketHelp = `The agent is found through its control socket: --socket, else
$DOVETAIL_SOCKET, else $XDG_RUNTIME_DIR/dovetail/agent.sock, else
$XDG_STATE_HOME/dovetail/agent.sock (~/.local/state when unset).
Exit status: 0 done, 1 error (also when no agent is running), 2 usage.
`

var controlCmds = map[string]*controlCmd{
	"status": {name: "status", json: true, do: doStatus, help: `Shows what each task of the running agent is doing: its state, the two
folders, when it last synced, progress while it syncs, how many paths it
could not sync and how many conflicts are open, and the error that stops
it with what to do about it.

Example:

  $ dovetail status
  photos: syncing
    /home/ann/Pictures ⇄ gdrive:Pictures (two-way)
    last sync: 3 minutes ago
    progress: 120 of 450 files, 1.5 GiB of 3.5 GiB; now 2025/IMG_0012.jpg
    1 open conflict: see "dovetail conflicts --task photos"
`},
	"task list": {name: "task list", json: true, do: doTaskList, help: `Lists the tasks of the running agent, one a line: name, state, direction
and the two folders.
`},
	"task run": {name: "task run", args: "NAME", force: true, do: doTaskAction("run"), help: `Starts a full run of task NAME now, also outside its schedule or sync
window. A run in progress is not interrupted. Follow it with "dovetail status".
With --force the run overrides the safety guards once: use it when the
agent refused a run that deletes many files (or found a folder missing or
empty) and the deletion is what you want.
`},
	"task pause": {name: "task pause", args: "NAME", do: doTaskAction("pause"), help: `Pauses task NAME: it starts no runs until "dovetail task resume NAME".
A run in progress finishes. The pause is not saved: a reload or a restart
of the agent starts the task again (to stop it for good, set "enabled: false"
for it in the configuration).
`},
	"task resume": {name: "task resume", args: "NAME", do: doTaskAction("resume"), help: `Resumes task NAME after "dovetail task pause": what changed meanwhile is
synced.
`},
	"history": {name: "history", json: true, task: true, limit: true, do: doHistory, help: `Lists what the agent did, newest first: uploads, downloads, deletions,
moves, conflicts and errors, with the task and the path.
`},
	"conflicts": {name: "conflicts", json: true, task: true, do: doConflicts, help: `Lists the open conflicts: paths changed on both sides, where one version
stayed at the path and the other was kept beside it as a conflict revision.
Compare the two, keep what you want and delete the other.
`},
	"reload": {name: "reload", do: doReload, help: `Makes the agent read its configuration file again and restart its tasks
(the same as sending it SIGHUP). If the file is invalid the error says what
is wrong with it.
`},
}

const taskUsage = `Usage: dovetail task COMMAND [flags] [NAME]

Controls the tasks of the running agent.

Commands:
  list          list the tasks
  run NAME      start a run of NAME now
  pause NAME    pause NAME until resumed
  resume NAME   resume NAME

Run "dovetail task COMMAND --help" for the flags of a command.
`

// runTask dispatches "dovetail task COMMAND".
func runTask(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, taskUsage)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, taskUsage)
		return exitOK
	}
	cmd, ok := controlCmds["task "+args[0]]
	if !ok {
		fmt.Fprintf(stderr, "dovetail task: unknown command %q\n\n%s", args[0], taskUsage)
		return exitUsage
	}
	return runControl(ctx, cmd, args[1:], stdout, stderr)
}

// runControlCmd runs the top-level command name ("status", "history", ...).
func runControlCmd(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	return runControl(ctx, controlCmds[name], args, stdout, stderr)
}

func (cmd *controlCmd) flags(stderr io.Writer) (*flag.FlagSet, *controlOpts) {
	o := &controlOpts{}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.socket, "socket", api.DefaultSocket(), "the agent's control socket `PATH`")
	if cmd.json {
		fs.BoolVar(&o.json, "json", false, "print the result as JSON on stdout (for scripts; the keys are stable)")
	}
	if cmd.task {
		fs.StringVar(&o.task, "task", "", "only the task `NAME` (default: all tasks)")
	}
	if cmd.force {
		fs.BoolVar(&o.force, "force", false, "override the safety guards (max-delete, missing or empty folder) for this run")
	}
	if cmd.limit {
		fs.IntVar(&o.limit, "limit", api.DefaultHistoryLimit, fmt.Sprintf("show the newest `N` entries (at most %d)", api.MaxHistoryLimit))
	}
	fs.Usage = func() {
		line := "dovetail " + cmd.name + " [flags]"
		if cmd.args != "" {
			line += " " + cmd.args
		}
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n%s\nFlags:\n", line, cmd.help, socketHelp)
		printFlags(fs)
	}
	return fs, o
}

// runControl parses the command line of cmd, sends its request to the
// agent and prints the answer.
func runControl(ctx context.Context, cmd *controlCmd, args []string, stdout, stderr io.Writer) int {
	fs, o := cmd.flags(stderr)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "dovetail %s: "+format+"\nRun \"dovetail %s --help\" for usage.\n", append(append([]any{cmd.name}, a...), cmd.name)...)
		return exitUsage
	}
	var name string
	switch {
	case cmd.args == "" && len(pos) > 0:
		return usageErr("takes no arguments, got %q", strings.Join(pos, " "))
	case cmd.args != "" && len(pos) != 1:
		return usageErr("need exactly one task NAME, got %d argument(s)", len(pos))
	case cmd.args != "":
		name = pos[0]
		if name == "" {
			return usageErr("the task NAME is empty")
		}
	}
	if cmd.limit && (o.limit < 1 || o.limit > api.MaxHistoryLimit) {
		return usageErr("--limit: %d is not a number from 1 to %d", o.limit, api.MaxHistoryLimit)
	}
	if o.socket == "" {
		return usageErr("--socket: the path is empty")
	}

	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	c := api.Dial(o.socket)
	defer c.Close()
	if err := cmd.do(ctx, c, o, name, stdout); err != nil {
		if errors.Is(err, api.ErrUnknownTask) {
			err = fmt.Errorf("%w (\"dovetail task list\" lists the tasks)", err)
		}
		if o.json {
			writeControlJSON(stdout, struct {
				Error string `json:"error"`
			}{err.Error()})
		}
		fmt.Fprintf(stderr, "dovetail %s: %v\n", cmd.name, err)
		return exitError
	}
	return exitOK
}

// writeControlJSON prints v as indented JSON, as the other --json outputs.
func writeControlJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// statusOf fetches the tasks' status. It writes the answer itself for
// --json and when there are no tasks, and then returns no tasks.
func statusOf(ctx context.Context, c *api.Client, o *controlOpts, w io.Writer) ([]api.TaskStatus, error) {
	tasks, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	if o.json {
		return nil, writeControlJSON(w, struct {
			Tasks []api.TaskStatus `json:"tasks"`
		}{nonEmpty(tasks)})
	}
	if len(tasks) == 0 {
		fmt.Fprintln(w, noTasks)
	}
	return tasks, nil
}

func doStatus(ctx context.Context, c *api.Client, o *controlOpts, _ string, w io.Writer) error {
	tasks, err := statusOf(ctx, c, o, w)
	if err != nil || len(tasks) == 0 {
		return err
	}
	now := time.Now()
	for i, t := range tasks {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printTaskStatus(w, t, now)
	}
	return nil
}

const noTasks = `No tasks are configured: add one to the configuration file, then run "dovetail reload".`

// printTaskStatus writes one task's block of "dovetail status".
func printTaskStatus(w io.Writer, t api.TaskStatus, now time.Time) {
	state := t.State
	if !t.Enabled && t.State == api.StateDisabled {
		state += " (turned off in the configuration)"
	}
	fmt.Fprintf(w, "%s: %s\n", t.Name, state)
	fmt.Fprintf(w, "  %s ⇄ %s (%s)\n", t.Local, t.Remote, t.Direction)
	if t.LastSync.IsZero() {
		fmt.Fprintln(w, "  last sync: never")
	} else {
		fmt.Fprintf(w, "  last sync: %s\n", ago(now, t.LastSync))
	}
	if !t.NextRun.IsZero() && t.State != api.StateDisabled {
		fmt.Fprintf(w, "  next run: %s\n", until(now, t.NextRun))
	}
	if p := t.Progress; (t.State == api.StateScanning || t.State == api.StateSyncing) && (p.FilesTotal > 0 || p.Current != "") {
		line := fmt.Sprintf("%d of %s", p.FilesDone, plural(p.FilesTotal, "file"))
		if p.BytesTotal > 0 {
			line += fmt.Sprintf(", %s of %s", humanBytes(p.BytesDone), humanBytes(p.BytesTotal))
		}
		if p.Current != "" {
			line += "; now " + p.Current
		}
		fmt.Fprintf(w, "  progress: %s\n", line)
	}
	var counts, see []string
	if t.Problems > 0 {
		counts = append(counts, plural(t.Problems, "path")+" not synced")
		see = append(see, fmt.Sprintf("dovetail history --task %s", shellQuote(t.Name)))
	}
	if t.Conflicts > 0 {
		counts = append(counts, plural(t.Conflicts, "open conflict"))
		see = append(see, fmt.Sprintf("dovetail conflicts --task %s", shellQuote(t.Name)))
	}
	if len(counts) > 0 {
		fmt.Fprintf(w, "  %s: see \"%s\"\n", strings.Join(counts, ", "), strings.Join(see, "\" and \""))
	}
	if t.Error != "" {
		label := "last failure"
		if t.State == api.StateError {
			label = "error"
		}
		fmt.Fprintf(w, "  %s: %s\n", label, t.Error)
	}
}

func doTaskList(ctx context.Context, c *api.Client, o *controlOpts, _ string, w io.Writer) error {
	tasks, err := statusOf(ctx, c, o, w)
	if err != nil || len(tasks) == 0 {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tDIRECTION\tLOCAL\tREMOTE")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.State, t.Direction, t.Local, t.Remote)
	}
	return tw.Flush()
}

func doTaskAction(action string) func(context.Context, *api.Client, *controlOpts, string, io.Writer) error {
	return func(ctx context.Context, c *api.Client, o *controlOpts, name string, w io.Writer) error {
		var err error
		var done string
		switch action {
		case "run":
			if o.force {
				err = c.ForceRun(ctx, name)
			} else {
				err = c.RunNow(ctx, name)
			}
			done = fmt.Sprintf("Task %s runs now; follow it with \"dovetail status\".", name)
		case "pause":
			err = c.Pause(ctx, name)
			done = fmt.Sprintf("Task %s paused: it starts no runs until \"dovetail task resume %s\".", name, shellQuote(name))
		case "resume":
			err = c.Resume(ctx, name)
			done = fmt.Sprintf("Task %s resumed.", name)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(w, done)
		return nil
	}
}

func doHistory(ctx context.Context, c *api.Client, o *controlOpts, _ string, w io.Writer) error {
	items, err := c.History(ctx, o.task, o.limit)
	if err != nil {
		return err
	}
	if o.json {
		return writeControlJSON(w, struct {
			History []api.HistoryItem `json:"history"`
		}{nonEmpty(items)})
	}
	if len(items) == 0 {
		fmt.Fprintln(w, "Nothing done yet.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTASK\tACTION\tPATH\tDETAIL")
	for _, h := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.Time.Local().Format(time.DateTime), h.Task, h.Action, h.Path, h.Detail)
	}
	return tw.Flush()
}

func doConflicts(ctx context.Context, c *api.Client, o *controlOpts, _ string, w io.Writer) error {
	items, err := c.Conflicts(ctx, o.task)
	if err != nil {
		return err
	}
	if o.json {
		return writeControlJSON(w, struct {
			Conflicts []api.ConflictItem `json:"conflicts"`
		}{nonEmpty(items)})
	}
	if len(items) == 0 {
		fmt.Fprintln(w, "No open conflicts.")
		return nil
	}
	for _, k := range items {
		fmt.Fprintf(w, "%s (task %s, %s)\n", k.Path, k.Task, k.Time.Local().Format("2006-01-02 15:04"))
		line := fmt.Sprintf("  the %s version is kept beside it as %s", k.Side, k.Revision)
		if k.Detail != "" {
			line += ": " + k.Detail
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "%s. Compare each file with the version kept beside it, keep what you want and delete the other.\n",
		plural(len(items), "open conflict"))
	return nil
}

func doReload(ctx context.Context, c *api.Client, _ *controlOpts, _ string, w io.Writer) error {
	if err := c.Reload(ctx); err != nil {
		return err
	}
	fmt.Fprintln(w, "Configuration reloaded; the tasks restarted.")
	return nil
}

// ago says how long before now t was, as people say it.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 48*time.Hour:
		return "1 day ago"
	case d < 7*24*time.Hour:
		return fmt.Sprintf("%d days ago", d/(24*time.Hour))
	}
	return "on " + t.Local().Format("2006-01-02 15:04")
}

// until says how long after now t is, as people say it.
func until(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d < time.Minute:
		return "within a minute"
	case d < time.Hour:
		return "in " + plural(int((d+time.Minute-1)/time.Minute), "minute") + " (at " + t.Local().Format("15:04") + ")"
	case d < 24*time.Hour:
		return "at " + t.Local().Format("15:04")
	}
	return "on " + t.Local().Format("2006-01-02 15:04")
}

// shellQuote quotes a task name for a command line the user may copy.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// nonEmpty makes an empty list print as [] rather than null.
func nonEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
