package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dovetail-sync/dovetail/rules"
)

const (
	nfcName = "caf\u00e9.txt"  // é precomposed
	nfdName = "cafe\u0301.txt" // e + combining acute
	bigSize = 350_000_000_001  // over Dropbox's 350 GB and OneDrive's 250 GB
)

var (
	longName = strings.Repeat("l", 251) // over B2's 250 bytes
	d100     = strings.Repeat("d", 100)
	deepDir  = "deep/" + d100 + "/" + d100 + "/" + d100 + "/" + d100 // 408 characters
)

// makeCheckTree writes a tree holding one example of every kind of problem.
// It reports whether the big sparse file could be made.
func makeCheckTree(t *testing.T, dir string) bool {
	t.Helper()
	files := []string{
		"ok.txt",
		"a:b.txt",
		"trailing.",
		"CON.txt",
		longName,
		deepDir + "/file.txt",
		"Readme.md",
		"README.md",
		nfcName,
		nfdName,
		"bad:dir/inner.txt",
		"sub/ok/inner.txt",
		// Junk that sync never touches is not reported either.
		".DS_Store",
		"sub/desktop.ini",
		"~$report.docx",
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, bigSize); err != nil { // sparse: no blocks written
		t.Logf("cannot make a %d-byte sparse file here (%v): size rules not tested end to end", int64(bigSize), err)
		os.Remove(big)
		return false
	}
	return true
}

type want struct{ path, rule string }

func runCheckJSON(t *testing.T, args ...string) (checkResult, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runCheck(context.Background(), append([]string{"--json"}, args...), &out, &errb)
	var res checkResult
	if code != exitUsage {
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("bad JSON (%v):\n%s\nstderr: %s", err, out.String(), errb.String())
		}
	}
	return res, code, errb.String()
}

func TestCheckReportsExactlyTheProblems(t *testing.T) {
	dir := t.TempDir()
	haveBig := makeCheckTree(t, dir)
	// One file is counted per line of files in makeCheckTree minus the
	// ignored junk, plus folders; the exact count is checked for linux.
	cases := map[string][]want{
		"linux": {
			{nfcName, rules.RuleNormalizationConflict},
		},
		"onedrive": {
			{"a:b.txt", rules.RuleForbiddenChar},
			{"trailing.", rules.RuleTrailingChar},
			{"CON.txt", rules.RuleReservedName},
			{deepDir, rules.RulePathTooLong},
			{"Readme.md", rules.RuleCaseConflict},
			{nfcName, rules.RuleNormalizationConflict},
			{"bad:dir", rules.RuleForbiddenChar},
			{"big.bin", rules.RuleFileTooBig},
		},
		"dropbox": {
			{"deep/" + d100 + "/" + d100 + "/" + d100, rules.RulePathTooLong}, // 307 > 259
			{"Readme.md", rules.RuleCaseConflict},
			{nfcName, rules.RuleNormalizationConflict},
			{"big.bin", rules.RuleFileTooBig},
		},
		"b2": {
			{longName, rules.RuleNameTooLong},
			{nfcName, rules.RuleNormalizationConflict},
		},
		"windows": {
			{"a:b.txt", rules.RuleForbiddenChar},
			{"trailing.", rules.RuleTrailingChar},
			{"CON.txt", rules.RuleReservedName},
			{"Readme.md", rules.RuleCaseConflict},
			{nfcName, rules.RuleNormalizationConflict},
			{"bad:dir", rules.RuleForbiddenChar},
		},
	}
	for provider, wants := range cases {
		t.Run(provider, func(t *testing.T) {
			if !haveBig {
				var w2 []want
				for _, w := range wants {
					if w.rule != rules.RuleFileTooBig {
						w2 = append(w2, w)
					}
				}
				wants = w2
			}
			res, code, stderr := runCheckJSON(t, "--for", provider, dir)
			if code != exitError {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitError, stderr)
			}
			var got, exp []string
			for _, p := range res.Problems {
				got = append(got, p.path()+" "+p.Rule)
				if p.Message == "" || p.Hint == "" {
					t.Errorf("problem without message or hint: %+v", p)
				}
			}
			for _, w := range wants {
				exp = append(exp, w.path+" "+w.rule)
			}
			sort.Strings(got)
			sort.Strings(exp)
			if strings.Join(got, "\n") != strings.Join(exp, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
			}
			if res.Provider != provider || res.Path != dir {
				t.Errorf("provider/path = %q/%q", res.Provider, res.Path)
			}
			if provider == "linux" {
				// ok.txt a:b.txt trailing. CON.txt long file deep(5 folders
				// + file) Readme README café café bad:dir(+inner)
				// sub sub/ok sub/ok/inner.txt [big.bin]
				n := 4 + 1 + 6 + 2 + 2 + 2 + 3
				if haveBig {
					n++
				}
				if res.Checked != n {
					t.Errorf("checked %d paths, want %d", res.Checked, n)
				}
			}
		})
	}
}

func (p checkProblem) path() string { return p.Path }

func TestCheckTextOutput(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a:b.txt", "Readme.md", "README.md", "fine.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := runCheck(context.Background(), []string{dir, "--for", "onedrive"}, &out, &errb)
	if code != exitError {
		t.Fatalf("exit %d; stderr %s", code, errb.String())
	}
	want := `Readme.md: name collides with "README.md" at OneDrive, which does not tell upper and lower case apart (rename or exclude one of them)
a:b.txt: name contains ":" which OneDrive does not allow (rename it, exclude it, or turn on name encoding (--encode-names))
2 problems in 4 paths checked for OneDrive (1 case-conflict, 1 forbidden-char).
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestCheckCleanTree(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"Documents/report.pdf", "Photos/2024/IMG_0001.jpg", "notes.txt", ".DS_Store"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, provider := range rules.Names() {
		var out, errb bytes.Buffer
		if code := runCheck(context.Background(), []string{"--for", provider, dir}, &out, &errb); code != exitOK {
			t.Errorf("%s: exit %d on a clean tree:\n%s%s", provider, code, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), "No problems: all 6 paths can be synced") {
			t.Errorf("%s: summary %q", provider, out.String())
		}
	}
	res, code, _ := runCheckJSON(t, "--for", "s3", dir)
	if code != exitOK || res.Problems == nil || len(res.Problems) != 0 || res.Checked != 6 {
		t.Errorf("JSON on a clean tree: code %d, %+v", code, res)
	}
}

func TestCheckEncodeNamesAndFilters(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a:b.txt", "trailing.", "CON.txt", "skip?.tmp", "ok.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, code, _ := runCheckJSON(t, "--for", "onedrive", "--encode-names", "--exclude", "*.tmp", dir)
	if code != exitError || len(res.Problems) != 1 || res.Problems[0].Path != "CON.txt" || res.Checked != 4 {
		t.Errorf("with --encode-names and --exclude: code %d, %+v", code, res)
	}
	res, code, _ = runCheckJSON(t, "--for", "onedrive", "--include", "ok.txt", dir)
	if code != exitOK || len(res.Problems) != 0 || res.Checked != 1 {
		t.Errorf("with --include ok.txt: code %d, %+v", code, res)
	}
}

func TestCheckUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{dir}, exitUsage, "--for PROVIDER is required"},
		{[]string{"--for", "icloud", dir}, exitUsage, strings.Join(rules.Names(), ", ")},
		{[]string{"--for", "s3"}, exitUsage, "need exactly one PATH"},
		{[]string{"--for", "s3", dir, dir}, exitUsage, "need exactly one PATH"},
		{[]string{"--for", "s3", filepath.Join(dir, "missing")}, exitUsage, "no such file"},
		{[]string{"--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"--help"}, exitOK, "Example"},
	} {
		var out, errb bytes.Buffer
		code := runCheck(context.Background(), c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("check %v: exit %d, stderr %q; want exit %d and %q", c.args, code, errb.String(), c.code, c.msg)
		}
	}
}
