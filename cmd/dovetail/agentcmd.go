package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dovetail-sync/dovetail/agent"
	"github.com/dovetail-sync/dovetail/agent/api"
	"github.com/dovetail-sync/dovetail/agent/config"
	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/dial"
	"github.com/dovetail-sync/dovetail/connectors/local"
	"github.com/dovetail-sync/dovetail/connectors/namecode"
	"github.com/dovetail-sync/dovetail/connectors/resilient"
	"github.com/dovetail-sync/dovetail/rules"
	"github.com/dovetail-sync/dovetail/statedb"
)

// runAgent runs every task of the configuration until SIGINT or SIGTERM;
// SIGHUP reloads the configuration.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration `FILE` (default "+config.DefaultPath()+")")
	socket := fs.String("socket", "", "control socket `PATH` (default: agent.socket of the configuration)")
	logLevel := fs.String("log-level", "", "log detail: debug, info, warn or error (default: the configuration's, info)")
	logFormat := fs.String("log-format", "", "log format: text or json (default: the configuration's, text)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: dovetail agent [flags]

Runs every task of the configuration continuously until stopped (Ctrl-C,
SIGTERM); SIGHUP or "dovetail reload" re-reads the configuration. Control
it with "dovetail status", "dovetail task ...", "dovetail history".

Without a configuration file it runs the demo task between two folders
under ~/.local/share/dovetail/demo (printed at start-up); see
docs/configuration.md to sync your own folders.

Flags:
`)
		printFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dovetail agent: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	path, explicit := *cfgPath, *cfgPath != ""
	if !explicit {
		path = config.DefaultPath()
	}
	load := func() (*config.Config, bool, error) {
		cfg, err := config.Load(path)
		if err != nil && !explicit && errors.Is(err, iofs.ErrNotExist) {
			return config.DefaultConfig(), true, nil
		}
		return cfg, false, err
	}
	cfg, demo, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "dovetail agent: %v\n", err)
		return exitUsage
	}
	level, format := firstOf(*logLevel, cfg.Agent.LogLevel), firstOf(*logFormat, cfg.Agent.LogFormat)
	log, err := newLogger(stderr, level, format == "json")
	if err != nil {
		fmt.Fprintf(stderr, "dovetail agent: %v\n", err)
		return exitUsage
	}
	if demo {
		t := cfg.Tasks[0]
		if err := seedDemo(t.Local, t.Remote); err != nil {
			fmt.Fprintf(stderr, "dovetail agent: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "No configuration at %s: running the demo task\n  local:  %s\n  remote: %s\n"+
			"Edit files on either side and watch them sync; \"dovetail status\" shows the task.\n"+
			"To sync your own folders, write a configuration (see docs/configuration.md).\n", path, t.Local, t.Remote)
	}
	secrets, err := config.NewSecrets(path)
	if err != nil {
		fmt.Fprintf(stderr, "dovetail agent: %v\n", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	current := cfg
	build := func(ctx context.Context) ([]agent.Spec, func(), error) {
		return buildSpecs(ctx, current, secrets, log)
	}
	check := func(ctx context.Context) error {
		c, _, err := load()
		if err == nil {
			current = c
		}
		return err
	}
	a := agent.New(build, check, log)

	sock := firstOf(*socket, os.Getenv("DOVETAIL_SOCKET"), cfg.Agent.Socket)
	l, err := api.Listen(sock)
	if err != nil {
		fmt.Fprintf(stderr, "dovetail agent: %v\n", err)
		return exitError
	}
	served := make(chan error, 1)
	go func() { served <- api.Serve(ctx, l, a) }()
	log.Info("agent started", "config", path, "tasks", len(cfg.Tasks), "socket", sock)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := a.Reload(ctx); err != nil {
					log.Error("reload failed; the running tasks go on", "err", err)
				} else {
					log.Info("configuration reloaded", "tasks", len(a.Tasks()))
				}
			}
		}
	}()
	runErr := a.Run(ctx)
	stop()
	<-served
	if runErr != nil {
		fmt.Fprintf(stderr, "dovetail agent: %v\n", runErr)
		return exitError
	}
	log.Info("agent stopped")
	return exitOK
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// seedDemo creates the demo folders with a few files on the first run.
func seedDemo(localDir, remoteDir string) error {
	if _, err := os.Stat(localDir); err == nil {
		return os.MkdirAll(remoteDir, 0o755)
	}
	for name, body := range demoFiles {
		p := filepath.Join(localDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return os.MkdirAll(remoteDir, 0o755)
}

// buildSpecs opens what each task of cfg needs: its state file, its local
// folder and (for a local remote) the remote folder; a network remote is
// connected by the task itself, with retries.
func buildSpecs(ctx context.Context, cfg *config.Config, secrets config.Secrets, log *slog.Logger) (specs []agent.Spec, release func(), err error) {
	var closers []func() error
	release = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	for _, t := range cfg.Tasks {
		spec, closeFn, err := taskSpec(ctx, cfg, t, secrets, log)
		if err != nil {
			return nil, nil, fmt.Errorf("task %s: %w", t.Name, err)
		}
		closers = append(closers, closeFn)
		specs = append(specs, spec)
	}
	return specs, release, nil
}

func taskSpec(ctx context.Context, cfg *config.Config, t *config.Task, secrets config.Secrets, log *slog.Logger) (agent.Spec, func() error, error) {
	var spec agent.Spec
	rem, err := cfg.Remote(t)
	if err != nil {
		return spec, nil, err
	}
	var opts reconcile.Options
	if opts.Direction, err = reconcile.ParseDirection(t.Direction); err != nil {
		return spec, nil, err
	}
	if opts.Conflict, err = reconcile.ParsePolicy(t.Conflict); err != nil {
		return spec, nil, err
	}
	if opts.Compare, err = reconcile.ParseCompare(t.Compare); err != nil {
		return spec, nil, err
	}
	rs, err := t.Rules()
	if err != nil {
		return spec, nil, err
	}
	lc, err := local.New(t.Local, local.Options{TrashDir: filepath.Join(t.Local, ".dovetail", "trash")})
	if err != nil {
		return spec, nil, err
	}
	statePath := cfg.StatePath(t)
	if err := os.MkdirAll(filepath.Dir(statePath), 0o700); err != nil {
		return spec, nil, err
	}
	db, err := statedb.Open(ctx, statePath)
	if err != nil {
		return spec, nil, err
	}
	remoteName := dial.Redact(rem.Arg)
	if err := checkPairID(ctx, db, t.Local+"\n"+remoteName, false); err != nil {
		db.Close()
		return spec, nil, err
	}
	var ruleSet *rules.RuleSet
	if rem.Connection != nil && rem.Connection.Param("rules") != "" {
		if ruleSet, err = rules.Lookup(rem.Connection.Param("rules")); err != nil {
			db.Close()
			return spec, nil, err
		}
	}
	pair := &engine.Pair{
		Local: lc, LocalName: t.Local, RemoteName: remoteName, DB: db,
		Rules: rs, NoDefaultIgnores: t.NoDefaultIgnores, Folders: t.Folders,
		MinSize: int64(t.MinSize), MaxSize: int64(t.MaxSize), EncodeNames: t.EncodeNames,
		Options: opts, MaxDelete: int(t.MaxDelete), Workers: t.Workers, Log: log.With("task", t.Name),
		TrashRetention: time.Duration(t.TrashDays) * 24 * time.Hour,
	}
	pair.RuleSets[1] = ruleSet
	if t.MaxDelete == 0 {
		pair.MaxDelete = -1 // 0 means "no deletes at all"
	}
	spec = agent.Spec{Name: t.Name, Pair: pair, Poll: t.Poll.D(), Rescan: t.Rescan.D(), Disabled: !t.Enabled}
	spec.Watch[0] = func() (agent.Source, error) { return agent.WatchFolder(t.Local, agent.SkipInternal, log) }
	open := func(ctx context.Context) (connectors.Connector, func() error, error) {
		o := dial.Options{BwLimit: t.BWLimit.At(time.Now()), Log: log.With("task", t.Name)}
		if rem.Connection != nil {
			o.Secret = func(name string) string {
				v, err := secrets.Get(rem.ConnectionName, name)
				if err != nil {
					log.Warn("reading a secret failed", "connection", rem.ConnectionName, "secret", name, "err", err)
				}
				return v
			}
		}
		r, err := dial.OpenWith(ctx, rem.Arg, o)
		if err != nil {
			return nil, nil, err
		}
		var c connectors.Connector = r.Connector
		if len(t.BWLimit.Slots) > 0 {
			// A bandwidth timetable: follow it, minute by minute.
			go func() {
				tick := time.NewTicker(time.Minute)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case now := <-tick.C:
						resilient.SetBwLimit(r.Connector, t.BWLimit.At(now))
					}
				}
			}()
		}
		if t.EncodeNames {
			name := c.Features().Rules
			if ruleSet != nil {
				name = ruleSet.Name
			}
			set, err := rules.Lookup(name)
			if err != nil {
				r.Close()
				return nil, nil, fmt.Errorf("encode_names: the remote has no name rules to encode for (%v)", err)
			}
			c = namecode.New(c, set)
		}
		return c, r.Close, nil
	}
	if rem.Kind == config.RemoteLocal || (rem.Connection != nil && rem.Connection.Type == "local") {
		// A local remote opens at once and is watched like the local side.
		c, closeFn, err := open(ctx)
		if err != nil {
			db.Close()
			return spec, nil, err
		}
		pair.Remote = c
		root := rem.Arg
		spec.Watch[1] = func() (agent.Source, error) { return agent.WatchFolder(root, agent.SkipInternal, log) }
		return spec, func() error { closeFn(); return db.Close() }, nil
	}
	spec.Connect = open
	return spec, db.Close, nil
}

// runConfig is "dovetail config validate [FILE]" and "dovetail config path".
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stdout, `Usage:
  dovetail config validate [FILE]   check a configuration file; every problem is listed
                                    with its line (default %s)
  dovetail config path              print where the agent looks for its configuration

An example with every option explained: packaging/dovetail.example.yaml;
all keys: docs/configuration.md.
`, config.DefaultPath())
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	switch args[0] {
	case "path":
		fmt.Fprintln(stdout, config.DefaultPath())
		return exitOK
	case "validate":
		path := config.DefaultPath()
		if len(args) > 1 {
			path = args[1]
		}
		cfg, err := config.Load(path)
		if err != nil {
			var ve *config.ValidationError
			if errors.As(err, &ve) {
				fmt.Fprintln(stderr, strings.TrimRight(ve.Error(), "\n"))
				return exitUsage
			}
			fmt.Fprintf(stderr, "dovetail config: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "%s is valid: %s, %s.\n", path, plural(len(cfg.Tasks), "task"), plural(len(cfg.Connections), "connection"))
		return exitOK
	}
	fmt.Fprintf(stderr, "dovetail config: unknown subcommand %q\nRun \"dovetail config --help\" for usage.\n", args[0])
	return exitUsage
}
