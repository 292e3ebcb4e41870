package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// demoFiles seed the demo pair's local folder on its first run.
var demoFiles = map[string]string{
	"README.txt": "This folder is kept in sync with ../remote by Dovetail.\n" +
		"Change, add or delete files on either side, then run the demo again.\n",
	"notes/todo.txt":         "- try editing this file in both folders, then sync: nothing is lost\n",
	"photos/2026/summer.txt": "(a photo would be here)\n",
}

// demoDir is where the demo pair lives: $XDG_DATA_HOME/dovetail/demo.
func demoDir() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "dovetail", "demo")
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", demoDir(), "where the demo pair lives (`DIR`/local and DIR/remote)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: dovetail demo [--dir DIR]\n\nSyncs DIR/local with DIR/remote, creating them with a few files on the first run.\n")
		printFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	localDir, remoteDir := filepath.Join(*dir, "local"), filepath.Join(*dir, "remote")
	if _, err := os.Stat(localDir); os.IsNotExist(err) {
		for name, body := range demoFiles {
			p := filepath.Join(localDir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				fmt.Fprintf(stderr, "dovetail: %v\n", err)
				return exitError
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				fmt.Fprintf(stderr, "dovetail: %v\n", err)
				return exitError
			}
		}
		if err := os.MkdirAll(remoteDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "dovetail: %v\n", err)
			return exitError
		}
		fmt.Fprintf(stdout, "Created a demo pair:\n  local:  %s\n  remote: %s\n", localDir, remoteDir)
	}
	fs2, o := syncFlags(stderr)
	_ = fs2
	o.state = filepath.Join(*dir, "state.db")
	code := syncPair(ctx, o, localDir, remoteDir, stdout, stderr)
	if code == exitOK {
		fmt.Fprintf(stdout, "\nTry it: edit %s, delete something in %s,\nor change the same file in both, then run the same command again.\n",
			filepath.Join(localDir, "notes", "todo.txt"), remoteDir)
	}
	return code
}
