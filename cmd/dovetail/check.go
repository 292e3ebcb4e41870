package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/local"
	"github.com/dovetail-sync/dovetail/rules"
	"golang.org/x/text/unicode/norm"
)

// checkProblem is one path that could not be synced to the provider.
type checkProblem struct {
	Path    string `json:"path"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// checkResult is the JSON output of "dovetail check --json".
type checkResult struct {
	Provider string         `json:"provider"`
	Path     string         `json:"path"`
	Problems []checkProblem `json:"problems"`
	Checked  int            `json:"checked"`
}

type checkOpts struct {
	provider    string
	json        bool
	encodeNames bool
	sync        syncOpts // for its filter flags
}

func checkFlags(stderr io.Writer) (*flag.FlagSet, *checkOpts) {
	o := &checkOpts{}
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.provider, "for", "", "the provider to check against: `PROVIDER` is one of "+strings.Join(rules.Names(), ", "))
	fs.BoolVar(&o.json, "json", false, "print the result as JSON on stdout (for scripts)")
	fs.BoolVar(&o.encodeNames, "encode-names", false, "check the names as name encoding would store them (characters the provider\nrefuses replaced by look-alikes); only lengths and reserved names remain")
	fs.Var(ruleFlag{o: &o.sync}, "exclude", "do not check paths matching `PATTERN` (repeatable; see docs/filters.md)")
	fs.Var(ruleFlag{o: &o.sync, include: true}, "include", "check only files matching `PATTERN` (repeatable)")
	fs.Var(ruleFlag{o: &o.sync, file: true}, "filter-from", "read include (+) and exclude (-) rules from `FILE`")
	fs.BoolVar(&o.sync.noDefaults, "no-default-ignores", false, "also check OS and editor junk (.DS_Store, Thumbs.db, ...), which sync skips")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: dovetail check --for PROVIDER [flags] PATH

Lists every file and folder below PATH that could not be synced to PROVIDER,
and why: characters the provider refuses, reserved names, names or paths
that are too long, files that are too big, and names that would collide
there (Readme.md and README.md at a case-insensitive provider; the same
name in NFC and NFD anywhere). One line per path:

  PATH: WHAT IS WRONG (WHAT YOU CAN DO)

then a summary. It reads PATH only and changes nothing. A sync skips such
paths (it neither copies nor deletes them) and reports them the same way.

Example:

  $ dovetail check --for onedrive ~/Documents
  draft.: name ends with "." which OneDrive does not allow (rename it, exclude it, or turn on name encoding (--encode-names))
  notes/Q&A: todo.txt: name contains ":" which OneDrive does not allow (rename it, exclude it, or turn on name encoding (--encode-names))
  photos/Readme.md: name collides with "photos/README.md" at OneDrive, which does not tell upper and lower case apart (rename or exclude one of them)
  3 problems in 1204 paths checked for OneDrive (1 case-conflict, 1 forbidden-char, 1 trailing-char).

Exit status: 0 nothing to report, 1 problems found (or PATH could not be
read), 2 usage error. See docs/providers.md for each provider's limits.

Flags:
`)
		printFlags(fs)
	}
	return fs, o
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := checkFlags(stderr)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "dovetail check: "+format+"\nRun \"dovetail check --help\" for usage.\n", a...)
		return exitUsage
	}
	if o.provider == "" {
		return usageErr("--for PROVIDER is required; PROVIDER is one of %s", strings.Join(rules.Names(), ", "))
	}
	rs, err := rules.Lookup(o.provider)
	if err != nil {
		return usageErr("--for: %v", err)
	}
	if len(pos) != 1 {
		return usageErr("need exactly one PATH, got %d argument(s)", len(pos))
	}
	filter, err := rules.Build(o.sync.filters, o.sync.noDefaults)
	if err != nil {
		return usageErr("%v", err)
	}
	root, err := filepath.Abs(pos[0])
	if err != nil {
		return usageErr("%v", err)
	}
	if st, err := os.Stat(root); err != nil {
		return usageErr("%v", err)
	} else if !st.IsDir() {
		return usageErr("%s is not a folder", root)
	}
	lc, err := local.New(root, local.Options{})
	if err != nil {
		return usageErr("%v", err)
	}

	// Collect first, then judge in sorted order: a folder comes before its
	// contents and the output does not depend on the order of the listing.
	var entries []connectors.Entry
	walkErr := lc.Walk(ctx, "", func(e connectors.Entry) error {
		if filter.Excluded(e.Path, e.IsDir()) {
			if e.IsDir() {
				return connectors.SkipDir
			}
			return nil
		}
		entries = append(entries, e)
		return nil
	}, func(p string, err error) {
		fmt.Fprintf(stderr, "dovetail check: %s: not checked: %v\n", p, err)
	})
	if walkErr != nil {
		fmt.Fprintf(stderr, "dovetail check: %v\n", walkErr)
		return exitError
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })

	res := checkResult{Provider: rs.Name, Path: root, Problems: []checkProblem{}}
	skipped := make(map[string]bool) // folders reported: their contents are not
	keys := make(map[string]string)  // FoldKey at the provider -> first path
	below := func(p string) bool {
		for d := connectors.Parent(p); d != ""; d = connectors.Parent(d) {
			if skipped[d] {
				return true
			}
		}
		return false
	}
	for _, e := range entries {
		if below(e.Path) {
			continue
		}
		res.Checked++
		stored := e.Path
		if o.encodeNames {
			stored = rs.EncodePath(e.Path)
		}
		if v := rs.Check(stored, e.IsDir(), e.Size); v != nil {
			res.Problems = append(res.Problems, checkProblem{Path: e.Path, Rule: v.Rule, Message: v.Message, Hint: v.Hint})
			skipped[e.Path] = e.IsDir() // its contents cannot be synced either
			continue
		}
		key := rs.FoldKey(stored)
		if first, dup := keys[key]; dup {
			// Reported once, where it starts: the contents of two folders
			// that collide are not compared.
			res.Problems = append(res.Problems, collision(rs, first, e.Path))
			skipped[e.Path] = e.IsDir()
			continue
		}
		keys[key] = e.Path
	}
	sort.Slice(res.Problems, func(i, j int) bool {
		a, b := res.Problems[i], res.Problems[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Rule < b.Rule
	})
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "dovetail check: %v\n", err)
			return exitError
		}
	} else {
		for _, p := range res.Problems {
			fmt.Fprintf(stdout, "%s: %s (%s)\n", p.Path, p.Message, p.Hint)
		}
		fmt.Fprintln(stdout, checkSummary(rs, res))
	}
	if len(res.Problems) > 0 {
		return exitError
	}
	return exitOK
}

// collision describes two paths that would be one at the provider.
func collision(rs *rules.RuleSet, first, second string) checkProblem {
	if norm.NFC.String(first) == norm.NFC.String(second) {
		return checkProblem{Path: second, Rule: rules.RuleNormalizationConflict,
			Message: fmt.Sprintf("name is the same as %q in another Unicode normalization (NFC/NFD): they look identical and %s would keep one", first, rs.Title),
			Hint:    "rename or exclude one of them"}
	}
	return checkProblem{Path: second, Rule: rules.RuleCaseConflict,
		Message: fmt.Sprintf("name collides with %q at %s, which does not tell upper and lower case apart", first, rs.Title),
		Hint:    "rename or exclude one of them"}
}

func checkSummary(rs *rules.RuleSet, res checkResult) string {
	checked := plural(res.Checked, "path")
	if len(res.Problems) == 0 {
		return fmt.Sprintf("No problems: all %s can be synced to %s.", checked, rs.Title)
	}
	byRule := map[string]int{}
	for _, p := range res.Problems {
		byRule[p.Rule]++
	}
	var parts []string
	for rule, n := range byRule {
		parts = append(parts, fmt.Sprintf("%d %s", n, rule))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%s in %s checked for %s (%s).", plural(len(res.Problems), "problem"), checked, rs.Title, strings.Join(parts, ", "))
}
