package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dovetail-sync/dovetail/agent/config"
)

// demoFiles seed the demo pair's local folder on its first run.
var demoFiles = map[string]string{
	"README.txt": "This folder is kept in sync with ../remote by Dovetail.\n" +
		"Change, add or delete files on either side, then run the demo again.\n",
	"notes/todo.txt":         "- try editing this file in both folders, then sync: nothing is lost\n",
	"photos/2026/summer.txt": "(a photo would be here)\n",
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", config.DemoDir(), "where the demo pair lives (`DIR`/local and DIR/remote)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: dovetail demo [--dir DIR]\n\nSyncs DIR/local with DIR/remote, creating them with a few files on the first run.\n")
		printFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	localDir, remoteDir := filepath.Join(*dir, "local"), filepath.Join(*dir, "remote")
	_, statErr := os.Stat(localDir)
	if err := seedDemo(localDir, remoteDir); err != nil {
		fmt.Fprintf(stderr, "dovetail: %v\n", err)
		return exitError
	}
	if os.IsNotExist(statErr) {
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
