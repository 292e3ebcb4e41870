package statedb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func openTemp(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pair.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func update(t testing.TB, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func loadAll(t testing.TB, db *DB) []Entry {
	t.Helper()
	var out []Entry
	if err := db.LoadBase(context.Background(), func(e Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("LoadBase: %v", err)
	}
	return out
}

func under(t testing.TB, db *DB, dir string) []string {
	t.Helper()
	var out []string
	if err := db.BaseUnder(context.Background(), dir, func(e Entry) error {
		out = append(out, e.Path)
		return nil
	}); err != nil {
		t.Fatalf("BaseUnder(%q): %v", dir, err)
	}
	return out
}

// rawQuery reads one integer from the file through a plain connection, as a
// user inspecting the file with the sqlite3 shell would.
func rawInt(t testing.TB, path, query string) int {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v int
	if err := raw.QueryRow(query).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func rawExec(t testing.TB, path string, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func sameEntry(a, b Entry) bool {
	return a.Path == b.Path && a.Dir == b.Dir && a.Size == b.Size && a.Hash == b.Hash &&
		a.LocalModTime.Equal(b.LocalModTime) && a.LocalModTime.IsZero() == b.LocalModTime.IsZero() &&
		a.LocalID == b.LocalID && a.LocalRev == b.LocalRev &&
		a.RemoteModTime.Equal(b.RemoteModTime) && a.RemoteModTime.IsZero() == b.RemoteModTime.IsZero() &&
		a.RemoteID == b.RemoteID && a.RemoteRev == b.RemoteRev
}

func TestEntryRoundTrip(t *testing.T) {
	db, path := openTemp(t)
	ctx := context.Background()
	t1 := time.Date(2026, 11, 23, 10, 15, 0, 123456789, time.UTC)
	t2 := time.Date(1999, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	want := []Entry{
		{Path: "docs", Dir: true, LocalModTime: t1, LocalID: "2049:11"},
		{Path: "docs/report final.odt", Size: 123456789012, Hash: "md5:d41d8cd98f00b204e9800998ecf8427e",
			LocalModTime: t1, LocalID: "2049:12", LocalRev: "lr1",
			RemoteModTime: t2, RemoteID: "id:AbC", RemoteRev: "5f2a"},
		{Path: "zero/times"},                         // every optional field empty, zero times
		{Path: "Ünïcödé/Café", Size: 1},              // NFC
		{Path: "Ünïcödé/Cafe\u0301", Size: 2},        // NFD: a different key
		{Path: "日本語/ファイル 😀.txt", Size: 3, Hash: "x"}, // CJK and astral plane
		{Path: "quote's \"and\" back\\slash", Size: 4},
	}
	update(t, db, func(tx *Tx) error {
		for _, e := range want {
			if err := tx.PutBase(e); err != nil {
				return err
			}
		}
		return nil
	})

	check := func(db *DB) {
		t.Helper()
		got := loadAll(t, db)
		sorted := append([]Entry(nil), want...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
		if len(got) != len(sorted) {
			t.Fatalf("LoadBase returned %d entries, want %d", len(got), len(sorted))
		}
		for i := range got {
			if !sameEntry(got[i], sorted[i]) {
				t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], sorted[i])
			}
			if got[i].LocalModTime.UnixNano() != sorted[i].LocalModTime.UnixNano() && !sorted[i].LocalModTime.IsZero() {
				t.Errorf("%s: mtime lost precision", got[i].Path)
			}
		}
		for _, w := range want {
			e, ok, err := db.BaseEntry(ctx, w.Path)
			if err != nil || !ok || !sameEntry(e, w) {
				t.Errorf("BaseEntry(%q) = %+v, %v, %v; want %+v", w.Path, e, ok, err, w)
			}
		}
		if _, ok, err := db.BaseEntry(ctx, "docs/"); ok || err != nil {
			t.Errorf("BaseEntry of a missing path: ok=%v err=%v", ok, err)
		}
		files, dirs, err := db.BaseCount(ctx)
		if err != nil || files != len(want)-1 || dirs != 1 {
			t.Errorf("BaseCount = %d, %d, %v; want %d, 1", files, dirs, err, len(want)-1)
		}
	}
	check(db)

	// Replace keeps one row per path.
	changed := want[1]
	changed.Size, changed.RemoteRev = 7, "5f2b"
	update(t, db, func(tx *Tx) error { return tx.PutBase(changed) })
	if e, _, _ := db.BaseEntry(ctx, changed.Path); e.Size != 7 || e.RemoteRev != "5f2b" {
		t.Fatalf("PutBase did not replace: %+v", e)
	}
	update(t, db, func(tx *Tx) error { return tx.PutBase(want[1]) })

	// Survives close and reopen.
	db.Close()
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	check(db2)

	update(t, db2, func(tx *Tx) error { return tx.DeleteBase("zero/times") })
	if _, ok, _ := db2.BaseEntry(ctx, "zero/times"); ok {
		t.Error("DeleteBase left the entry")
	}
	update(t, db2, func(tx *Tx) error { return tx.DeleteBase("never/existed") })
}

func TestEmptyDatabase(t *testing.T) {
	db, _ := openTemp(t)
	ctx := context.Background()
	if got := loadAll(t, db); len(got) != 0 {
		t.Errorf("new database has %d base entries", len(got))
	}
	files, dirs, err := db.BaseCount(ctx)
	if files != 0 || dirs != 0 || err != nil {
		t.Errorf("BaseCount = %d, %d, %v", files, dirs, err)
	}
	if _, ok, err := db.Meta(ctx, "x"); ok || err != nil {
		t.Errorf("Meta on empty db: %v %v", ok, err)
	}
	if in, err := db.Intents(ctx); len(in) != 0 || err != nil {
		t.Errorf("Intents = %v, %v", in, err)
	}
	if h, err := db.History(ctx, 10); len(h) != 0 || err != nil {
		t.Errorf("History = %v, %v", h, err)
	}
	if c, err := db.Conflicts(ctx, false); len(c) != 0 || err != nil {
		t.Errorf("Conflicts = %v, %v", c, err)
	}
}

func TestBaseUnder(t *testing.T) {
	db, _ := openTemp(t)
	all := []string{"a", "a b", "a!", "a-old", "a.txt", "a/b", "a/b/c", "a/b0", "a/bc", "a0", "ab", "ab/c", "b", "b/a"}
	update(t, db, func(tx *Tx) error {
		for _, p := range all {
			if err := tx.PutBase(Entry{Path: p}); err != nil {
				return err
			}
		}
		return nil
	})
	sortedAll := append([]string(nil), all...)
	sort.Strings(sortedAll)
	cases := []struct {
		dir  string
		want []string
	}{
		{"a", []string{"a", "a/b", "a/b/c", "a/b0", "a/bc"}},
		{"a/", []string{"a", "a/b", "a/b/c", "a/b0", "a/bc"}},
		{"a/b", []string{"a/b", "a/b/c"}},
		{"ab", []string{"ab", "ab/c"}},
		{"b", []string{"b", "b/a"}},
		{"a/b/c", []string{"a/b/c"}},
		{"missing", nil},
		{"a/missing", nil},
		{"", sortedAll},
		{"/", sortedAll},
	}
	for _, c := range cases {
		if got := under(t, db, c.dir); !reflect.DeepEqual(got, c.want) {
			t.Errorf("BaseUnder(%q) = %q, want %q", c.dir, got, c.want)
		}
	}

	// The subtree query must use the primary key, not scan the table.
	var plan []string
	rows, err := db.sql.Query("EXPLAIN QUERY PLAN SELECT "+baseColumns+" FROM base"+
		" WHERE path >= ?1 AND path < ?3 AND (path = ?1 OR path >= ?2) ORDER BY path", "a", "a/", "a0")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	rows.Close()
	if p := strings.Join(plan, " | "); !strings.Contains(p, "SEARCH base USING PRIMARY KEY") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("BaseUnder query plan %q does not use the primary key range", p)
	}

	// DeleteBaseUnder matches exactly what BaseUnder matches.
	update(t, db, func(tx *Tx) error { return tx.DeleteBaseUnder("a") })
	want := []string{"a b", "a!", "a-old", "a.txt", "a0", "ab", "ab/c", "b", "b/a"}
	sort.Strings(want)
	if got := under(t, db, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("after DeleteBaseUnder(a): %q, want %q", got, want)
	}
	update(t, db, func(tx *Tx) error { return tx.DeleteBaseUnder("") })
	if got := under(t, db, ""); len(got) != 0 {
		t.Errorf("after DeleteBaseUnder(\"\"): %q", got)
	}
}

func TestLoadBaseStopsOnCallbackError(t *testing.T) {
	db, _ := openTemp(t)
	update(t, db, func(tx *Tx) error {
		for i := 0; i < 10; i++ {
			if err := tx.PutBase(Entry{Path: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	stop := errors.New("stop")
	n := 0
	err := db.LoadBase(context.Background(), func(Entry) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("LoadBase returned %v after %d calls; want the callback's error after 3", err, n)
	}
}

func TestUpdateInsideLoadBase(t *testing.T) {
	db, _ := openTemp(t)
	update(t, db, func(tx *Tx) error {
		for i := 0; i < 100; i++ {
			if err := tx.PutBase(Entry{Path: fmt.Sprintf("f%03d", i), Size: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- db.LoadBase(context.Background(), func(e Entry) error {
			n++
			// The callback records a hash it computed: a write while streaming.
			return db.Update(context.Background(), func(tx *Tx) error {
				e.Hash = "h"
				e.Size = 2
				return tx.PutBase(e)
			})
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Update inside LoadBase deadlocked")
	}
	for _, e := range loadAll(t, db) {
		if e.Hash != "h" || e.Size != 2 {
			t.Fatalf("entry %s not updated: %+v", e.Path, e)
		}
	}
}

func TestMigrationsAndIdentity(t *testing.T) {
	db, path := openTemp(t)
	ctx := context.Background()
	update(t, db, func(tx *Tx) error { return tx.SetMeta("hash", "md5") })
	db.Close()

	if v := rawInt(t, path, "PRAGMA user_version"); v != SchemaVersion || v < 1 {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion)
	}
	if v := rawInt(t, path, "PRAGMA application_id"); v != ApplicationID {
		t.Errorf("application_id = %#x, want %#x", v, ApplicationID)
	}
	objects := rawInt(t, path, "SELECT count(*) FROM sqlite_master")

	for i := 0; i < 3; i++ {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		if v, ok, err := db.Meta(ctx, "hash"); v != "md5" || !ok || err != nil {
			t.Errorf("reopen %d: Meta = %q %v %v", i, v, ok, err)
		}
		db.Close()
	}
	if v := rawInt(t, path, "PRAGMA user_version"); v != SchemaVersion {
		t.Errorf("user_version after reopen = %d", v)
	}
	if n := rawInt(t, path, "SELECT count(*) FROM sqlite_master"); n != objects {
		t.Errorf("schema objects changed on reopen: %d -> %d", objects, n)
	}
	if mode := rawString(t, path, "PRAGMA journal_mode"); mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func rawString(t testing.TB, path, query string) string {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v string
	if err := raw.QueryRow(query).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func TestLoadMigrationsRejectsGaps(t *testing.T) {
	ok := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a(x);")},
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b(x);")},
	}
	ms, err := loadMigrations(ok)
	if err != nil || len(ms) != 2 || ms[1].version != 2 {
		t.Fatalf("loadMigrations = %v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":     {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"dup":     {"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
		"badname": {"migrations/init.sql": {}},
		"empty":   {},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations accepted it", name)
		}
	}
}

func TestMeta(t *testing.T) {
	db, _ := openTemp(t)
	ctx := context.Background()
	update(t, db, func(tx *Tx) error {
		if err := tx.SetMeta("hash", "md5"); err != nil {
			return err
		}
		if err := tx.SetMeta("empty", ""); err != nil {
			return err
		}
		return tx.SetMeta("hash", "sha1")
	})
	if v, ok, err := db.Meta(ctx, "hash"); v != "sha1" || !ok || err != nil {
		t.Errorf("Meta(hash) = %q %v %v", v, ok, err)
	}
	if v, ok, err := db.Meta(ctx, "empty"); v != "" || !ok || err != nil {
		t.Errorf("Meta(empty) = %q %v %v; an empty value is present", v, ok, err)
	}
	if _, ok, err := db.Meta(ctx, "nope"); ok || err != nil {
		t.Errorf("Meta(nope) ok=%v err=%v", ok, err)
	}
}

func TestIntents(t *testing.T) {
	db, path := openTemp(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 5, time.UTC)
	var id1, id2, id3 int64
	update(t, db, func(tx *Tx) (err error) {
		if id1, err = tx.AddIntent(Intent{Time: now, Op: "delete", Side: "local", Path: "a"}); err != nil {
			return err
		}
		if id2, err = tx.AddIntent(Intent{ID: 999, Time: now.Add(time.Second), Op: "move", Side: "remote", Path: "b", Dest: "c"}); err != nil {
			return err
		}
		id3, err = tx.AddIntent(Intent{Op: "delete", Side: "remote", Path: "d"})
		return err
	})
	if !(id1 < id2 && id2 < id3) || id2 == 999 {
		t.Fatalf("ids %d %d %d", id1, id2, id3)
	}
	got, err := db.Intents(ctx)
	if err != nil || len(got) != 3 {
		t.Fatalf("Intents = %v, %v", got, err)
	}
	if g := got[1]; g.ID != id2 || !g.Time.Equal(now.Add(time.Second)) || g.Op != "move" || g.Side != "remote" || g.Path != "b" || g.Dest != "c" {
		t.Errorf("intent round trip: %+v", g)
	}
	if !got[2].Time.IsZero() {
		t.Errorf("zero intent time read back as %v", got[2].Time)
	}
	update(t, db, func(tx *Tx) error { return tx.DoneIntent(id2) })
	update(t, db, func(tx *Tx) error { return tx.DoneIntent(id2) }) // replayed after a crash
	got, _ = db.Intents(ctx)
	if len(got) != 2 || got[0].ID != id1 || got[1].ID != id3 {
		t.Errorf("after DoneIntent: %+v", got)
	}

	// Pending intents survive a restart; ids are not reused.
	db.Close()
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	got, _ = db2.Intents(ctx)
	if len(got) != 2 {
		t.Fatalf("after reopen: %+v", got)
	}
	update(t, db2, func(tx *Tx) error {
		if err := tx.DoneIntent(id3); err != nil {
			return err
		}
		id4, err := tx.AddIntent(Intent{Op: "x", Side: "local", Path: "e"})
		if id4 <= id3 {
			t.Errorf("intent id reused: %d after %d", id4, id3)
		}
		return err
	})
}

func TestHistoryTrim(t *testing.T) {
	db, _ := openTemp(t)
	ctx := context.Background()
	db.HistoryLimit = 5
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(from, to int) {
		update(t, db, func(tx *Tx) error {
			for i := from; i < to; i++ {
				if err := tx.AddHistory(HistoryRecord{Time: base.Add(time.Duration(i) * time.Second),
					Op: "upload", Side: "remote", Path: "f" + strconv.Itoa(i), Size: int64(i)}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	paths := func(hs []HistoryRecord) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Path)
		}
		return out
	}
	add(0, 3)
	h, err := db.History(ctx, 0)
	if err != nil || !reflect.DeepEqual(paths(h), []string{"f2", "f1", "f0"}) {
		t.Fatalf("History = %q, %v; want newest first", paths(h), err)
	}
	add(3, 7)
	h, _ = db.History(ctx, 0)
	if !reflect.DeepEqual(paths(h), []string{"f6", "f5", "f4", "f3", "f2"}) {
		t.Errorf("after trim: %q", paths(h))
	}
	add(7, 30) // more than the limit in one transaction
	h, _ = db.History(ctx, 0)
	if !reflect.DeepEqual(paths(h), []string{"f29", "f28", "f27", "f26", "f25"}) {
		t.Errorf("after big batch: %q", paths(h))
	}
	h, _ = db.History(ctx, 2)
	if !reflect.DeepEqual(paths(h), []string{"f29", "f28"}) {
		t.Errorf("History(2) = %q", paths(h))
	}
	if g := h[0]; g.Op != "upload" || g.Side != "remote" || g.Size != 29 || !g.Time.Equal(base.Add(29*time.Second)) || g.Err != "" || g.Dest != "" {
		t.Errorf("history round trip: %+v", g)
	}
	update(t, db, func(tx *Tx) error {
		return tx.AddHistory(HistoryRecord{Op: "delete", Side: "local", Path: "x", Dest: "trash/x", Err: "permission denied"})
	})
	h, _ = db.History(ctx, 1)
	if g := h[0]; g.Err != "permission denied" || g.Dest != "trash/x" || !g.Time.IsZero() {
		t.Errorf("history with error: %+v", g)
	}
	// A transaction without history leaves the count alone even if the limit shrank.
	db.HistoryLimit = 2
	update(t, db, func(tx *Tx) error { return tx.SetMeta("k", "v") })
	if h, _ = db.History(ctx, 0); len(h) != 5 {
		t.Errorf("trim ran without new history: %d rows", len(h))
	}
}

func TestConflicts(t *testing.T) {
	db, _ := openTemp(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 1, time.UTC)
	c1 := Conflict{Time: t0, Path: "notes.txt", RevisionPath: "notes (conflict remote 2026-11-23).txt",
		KeptSide: "local", RevisionSide: "remote", Reason: "both sides changed"}
	c2 := Conflict{Time: t0.Add(time.Minute), Path: "b", RevisionPath: "b (conflict)", KeptSide: "remote", RevisionSide: "local"}
	var id1, id2 int64
	update(t, db, func(tx *Tx) (err error) {
		if id1, err = tx.AddConflict(c1); err != nil {
			return err
		}
		id2, err = tx.AddConflict(c2)
		return err
	})
	all, err := db.Conflicts(ctx, false)
	if err != nil || len(all) != 2 {
		t.Fatalf("Conflicts = %v, %v", all, err)
	}
	c1.ID = id1
	if g := all[0]; g.ID != id1 || !g.Time.Equal(t0) || g.Path != c1.Path || g.RevisionPath != c1.RevisionPath ||
		g.KeptSide != "local" || g.RevisionSide != "remote" || g.Reason != c1.Reason || !g.ResolvedAt.IsZero() {
		t.Errorf("conflict round trip: %+v", g)
	}

	resolved := t0.Add(time.Hour)
	update(t, db, func(tx *Tx) error { return tx.ResolveConflict(id1, resolved) })
	open, _ := db.Conflicts(ctx, true)
	if len(open) != 1 || open[0].ID != id2 {
		t.Errorf("open conflicts = %+v, want only %d", open, id2)
	}
	all, _ = db.Conflicts(ctx, false)
	if len(all) != 2 || !all[0].ResolvedAt.Equal(resolved) {
		t.Errorf("resolved conflict: %+v", all)
	}
	// Resolving again keeps the first time.
	update(t, db, func(tx *Tx) error { return tx.ResolveConflict(id1, resolved.Add(time.Hour)) })
	all, _ = db.Conflicts(ctx, false)
	if !all[0].ResolvedAt.Equal(resolved) {
		t.Errorf("second resolve changed the time to %v", all[0].ResolvedAt)
	}
	err = db.Update(ctx, func(tx *Tx) error { return tx.ResolveConflict(12345, resolved) })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("resolving an unknown conflict: %v, want ErrNotFound", err)
	}
	if err := db.Update(ctx, func(tx *Tx) error { return tx.ResolveConflict(id2, time.Time{}) }); err == nil {
		t.Error("resolving with the zero time succeeded; it would read back as open")
	}
}

func TestUpdateRollback(t *testing.T) {
	db, _ := openTemp(t)
	ctx := context.Background()
	update(t, db, func(tx *Tx) error { return tx.PutBase(Entry{Path: "keep", Size: 1}) })

	boom := errors.New("boom")
	var leaked *Tx
	err := db.Update(ctx, func(tx *Tx) error {
		leaked = tx
		steps := []error{
			tx.PutBase(Entry{Path: "new"}),
			tx.PutBase(Entry{Path: "keep", Size: 99}),
			tx.SetMeta("k", "v"),
			tx.AddHistory(HistoryRecord{Op: "upload", Path: "new"}),
		}
		if _, err := tx.AddIntent(Intent{Op: "delete", Path: "keep"}); err != nil {
			return err
		}
		if _, err := tx.AddConflict(Conflict{Path: "c"}); err != nil {
			return err
		}
		for _, e := range steps {
			if e != nil {
				return e
			}
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	assertUntouched := func(when string) {
		t.Helper()
		got := loadAll(t, db)
		if len(got) != 1 || got[0].Path != "keep" || got[0].Size != 1 {
			t.Errorf("%s: base = %+v", when, got)
		}
		if _, ok, _ := db.Meta(ctx, "k"); ok {
			t.Errorf("%s: meta written", when)
		}
		if in, _ := db.Intents(ctx); len(in) != 0 {
			t.Errorf("%s: intents written", when)
		}
		if h, _ := db.History(ctx, 0); len(h) != 0 {
			t.Errorf("%s: history written", when)
		}
		if c, _ := db.Conflicts(ctx, false); len(c) != 0 {
			t.Errorf("%s: conflicts written", when)
		}
	}
	assertUntouched("after error")

	if err := leaked.PutBase(Entry{Path: "late"}); err == nil {
		t.Error("a Tx kept past its Update still wrote")
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in fn was swallowed")
			}
		}()
		_ = db.Update(ctx, func(tx *Tx) error {
			if err := tx.PutBase(Entry{Path: "panic"}); err != nil {
				return err
			}
			panic("fn panicked")
		})
	}()
	assertUntouched("after panic")

	// The database is still writable afterwards.
	update(t, db, func(tx *Tx) error { return tx.PutBase(Entry{Path: "after"}) })
	if len(loadAll(t, db)) != 2 {
		t.Error("write after rollback failed")
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "nested")
	path := filepath.Join(dir, "pair.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	update(t, db, func(tx *Tx) error { return tx.PutBase(Entry{Path: "x"}) })
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	for name, want := range map[string]os.FileMode{
		dir:               0o700 | os.ModeDir,
		filepath.Dir(dir): 0o700 | os.ModeDir,
		path:              0o600,
		path + ".lock":    0o600,
		path + "-wal":     0o600,
		path + "-shm":     0o600,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
	db.Close()
}

func TestOpenRelativePathAndOddCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my state?x=1#frag %20")
	path := filepath.Join(dir, "pair ?.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	update(t, db, func(tx *Tx) error { return tx.PutBase(Entry{Path: "x"}) })
	db.Close()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if want := []string{"pair ?.db", "pair ?.db.lock"}; !reflect.DeepEqual(names, want) {
		t.Errorf("files created: %q, want %q", names, want)
	}

	t.Chdir(dir)
	db, err = Open(context.Background(), "pair ?.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Path() != path {
		t.Errorf("Path() = %q, want absolute %q", db.Path(), path)
	}
	if n := len(loadAll(t, db)); n != 1 {
		t.Errorf("reopened through a relative path: %d entries", n)
	}
}

func assertCorrupt(t *testing.T, path string) {
	t.Helper()
	before, _ := os.ReadFile(path)
	for i := 0; i < 2; i++ { // the failed Open releases the lock: the second try is not ErrLocked
		db, err := Open(context.Background(), path)
		if err == nil {
			db.Close()
			t.Fatal("Open of a damaged file succeeded")
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open: %v; want ErrCorrupt", err)
		}
		msg := err.Error()
		for _, want := range []string{path, "is damaged", "--reset-state", path + ".broken-", "deletes nothing"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q does not contain %q", msg, want)
			}
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Open changed the damaged file")
	}
}

func TestCorruptRandomBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pair.db")
	junk := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(junk)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	assertCorrupt(t, path)
}

func TestCorruptTextFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pair.db")
	if err := os.WriteFile(path, []byte("[remote]\ntype = s3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertCorrupt(t, path)
}

func TestCorruptTruncated(t *testing.T) {
	db, path := openTemp(t)
	update(t, db, func(tx *Tx) error {
		for i := 0; i < 20000; i++ {
			if err := tx.PutBase(Entry{Path: fmt.Sprintf("dir%03d/file%06d.txt", i%300, i), Size: int64(i),
				Hash: fmt.Sprintf("%032x", i), LocalID: "2049:" + strconv.Itoa(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("the WAL was not checkpointed on Close")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	assertCorrupt(t, path)
}

func TestForeignDatabase(t *testing.T) {
	cases := map[string][]string{
		"other app tables":      {"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO users VALUES (1, 'ann')"},
		"other application id":  {"PRAGMA application_id = 1234"},
		"other user_version":    {"PRAGMA user_version = 7"},
		"tables at our version": {"CREATE TABLE base (x)", fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)},
	}
	for name, stmts := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "other.sqlite")
			rawExec(t, path, stmts...)
			before, _ := os.ReadFile(path)
			db, err := Open(context.Background(), path)
			if err == nil {
				db.Close()
				t.Fatal("Open of a foreign database succeeded")
			}
			if !errors.Is(err, ErrForeign) {
				t.Fatalf("Open: %v; want ErrForeign", err)
			}
			for _, want := range []string{path, "not a Dovetail state file", "--state"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not contain %q", err, want)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("Open modified the foreign database")
			}
			if mode := rawString(t, path, "PRAGMA journal_mode"); mode != "delete" {
				t.Errorf("foreign database switched to journal_mode %q", mode)
			}
		})
	}
}

func TestTooNew(t *testing.T) {
	db, path := openTemp(t)
	db.Close()
	rawExec(t, path, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion+1))
	_, err := Open(context.Background(), path)
	if !errors.Is(err, ErrTooNew) {
		t.Fatalf("Open: %v; want ErrTooNew", err)
	}
	for _, want := range []string{path, "newer Dovetail", "upgrade"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}
}

func TestLock(t *testing.T) {
	db, path := openTemp(t)
	ctx := context.Background()
	_, err := Open(ctx, path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v; want ErrLocked", err)
	}
	want := fmt.Sprintf("state file %s is in use by another dovetail process (pid %d)", path, os.Getpid())
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if _, err := Reset(path); !errors.Is(err, ErrLocked) {
		t.Errorf("Reset of an open state file: %v; want ErrLocked", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("refused Reset touched the file: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}

func TestReset(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pair.db")
	ctx := context.Background()

	if moved, err := Reset(path); moved != "" || err != nil {
		t.Errorf("Reset of a missing file = %q, %v", moved, err)
	}
	if moved, err := Reset(filepath.Join(dir, "no", "such", "dir", "pair.db")); moved != "" || err != nil {
		t.Errorf("Reset in a missing folder = %q, %v", moved, err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	update(t, db, func(tx *Tx) error { return tx.PutBase(Entry{Path: "x"}) })
	db.Close()
	// Companions a crash would leave behind travel with the file.
	for _, s := range []string{"-wal", "-shm"} {
		if err := os.WriteFile(path+s, []byte("companion"+s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	content, _ := os.ReadFile(path)

	moved, err := Reset(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(moved, path+".broken-") || len(moved) != len(path+".broken-20060102-150405") {
		t.Errorf("Reset moved to %q", moved)
	}
	if got, _ := os.ReadFile(moved); !bytes.Equal(got, content) {
		t.Error("moved file differs from the original")
	}
	for _, s := range []string{"-wal", "-shm"} {
		if got, _ := os.ReadFile(moved + s); string(got) != "companion"+s {
			t.Errorf("companion %s not moved with the file: %q", s, got)
		}
		if _, err := os.Stat(path + s); err == nil {
			t.Errorf("companion %s left in place", s)
		}
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("state file still in place after Reset")
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(loadAll(t, db)); n != 0 {
		t.Errorf("Open after Reset has %d entries, want a fresh file", n)
	}
	update(t, db, func(tx *Tx) error { return tx.PutBase(Entry{Path: "y"}) })
	db.Close()

	// A second reset in the same second must not overwrite the first.
	moved2, err := Reset(path)
	if err != nil {
		t.Fatal(err)
	}
	if moved2 == moved {
		t.Fatal("second Reset reused the first name")
	}
	if got, _ := os.ReadFile(moved); !bytes.Equal(got, content) {
		t.Error("second Reset overwrote the first moved file")
	}

	// Reset recovers from a damaged file end to end.
	if err := os.WriteFile(path, []byte("garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open garbage: %v", err)
	}
	if _, err := Reset(path); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after resetting a damaged file: %v", err)
	}
	db.Close()
}

func TestStaleWALNotReplayedIntoNewFile(t *testing.T) {
	db, path := openTemp(t)
	update(t, db, func(tx *Tx) error { return tx.PutBase(Entry{Path: "old"}) })
	// Copy the WAL while it still holds the commit, as a crash would leave it.
	wal, err := os.ReadFile(path + "-wal")
	if err != nil || len(wal) == 0 {
		t.Fatalf("no WAL content to copy: %v", err)
	}
	db.Close()
	// The user deletes the state file by hand, the old WAL stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+"-wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := loadAll(t, db); len(got) != 0 {
		t.Errorf("new state file contains %+v from a stale WAL", got)
	}
	matches, _ := filepath.Glob(path + ".broken-*-wal")
	if len(matches) != 1 {
		t.Errorf("stale WAL not kept aside: %q", matches)
	}
}

func TestCorruptOverwrittenPages(t *testing.T) {
	db, path := openTemp(t)
	update(t, db, func(tx *Tx) error {
		for i := 0; i < 20000; i++ {
			if err := tx.PutBase(Entry{Path: fmt.Sprintf("d%03d/f%06d", i%300, i), Size: int64(i), Hash: fmt.Sprintf("%032x", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	junk := make([]byte, 3*4096)
	rand.New(rand.NewSource(2)).Read(junk)
	// Damage three pages in the middle; the header (page 1) stays intact, so
	// only the integrity check can tell.
	if _, err := f.WriteAt(junk, (fi.Size()/2)&^4095); err != nil {
		t.Fatal(err)
	}
	f.Close()
	assertCorrupt(t, path)
}

func TestQuickCheckDetail(t *testing.T) {
	got := quickCheckDetail([]string{"*** in database main ***", "Page 5: never used", "Page 6: never used", "Page 7: never used", "Page 8: never used"})
	want := "integrity check: *** in database main ***; Page 5: never used; Page 6: never used; and 2 more problems"
	if got != want {
		t.Errorf("quickCheckDetail = %q, want %q", got, want)
	}
	err := corruptError("/x/pair.db", got, nil)
	if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), "state file /x/pair.db is damaged (integrity check: ") {
		t.Errorf("corruptError = %v", err)
	}
}

func TestJournal(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	t0 := time.Unix(100, 0)
	mark := func(d Dirty) {
		t.Helper()
		if err := db.Update(ctx, func(tx *Tx) error { return tx.MarkDirty(d) }); err != nil {
			t.Fatal(err)
		}
	}
	mark(Dirty{Side: "local", Path: "a.txt", Time: t0})
	mark(Dirty{Side: "remote", Path: "d", Subtree: true, Time: t0.Add(time.Second)})
	mark(Dirty{Side: "local", Path: "a.txt", Time: t0.Add(2 * time.Second)}) // seen again: later time
	mark(Dirty{Side: "remote", Path: "d", Time: t0.Add(3 * time.Second)})    // subtree stays set
	got, err := db.Journal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Dirty{
		{Side: "remote", Path: "d", Subtree: true, Time: t0.Add(3 * time.Second)},
		{Side: "local", Path: "a.txt", Time: t0.Add(2 * time.Second)},
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Side+got[i].Path < got[j].Side+got[j].Path })
	sort.Slice(want, func(i, j int) bool { return want[i].Side+want[i].Path < want[j].Side+want[j].Path })
	if len(got) != len(want) {
		t.Fatalf("journal = %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i].Side != want[i].Side || got[i].Path != want[i].Path || got[i].Subtree != want[i].Subtree || !got[i].Time.Equal(want[i].Time) {
			t.Fatalf("journal[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	// A run took the snapshot got; a.txt changes again before the run ends.
	mark(Dirty{Side: "local", Path: "a.txt", Time: t0.Add(10 * time.Second)})
	if err := db.Update(ctx, func(tx *Tx) error { return tx.ClearDirty(got) }); err != nil {
		t.Fatal(err)
	}
	left, err := db.Journal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Path != "a.txt" {
		t.Fatalf("after clear: %+v, want only a.txt (marked again during the run)", left)
	}
	// The journal survives a reopen.
	path := db.Path()
	db.Close()
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if left, _ := db2.Journal(ctx); len(left) != 1 {
		t.Fatalf("after reopen: %+v", left)
	}
}

// A file modified at the Unix epoch keeps that time in the base; it is not
// the zero time (unknown), which would make it look changed on every run.
func TestEpochModTimeRoundTrips(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	epoch := time.Unix(0, 0)
	want := []Entry{
		{Path: "epoch.txt", Size: 3, LocalModTime: epoch, RemoteModTime: epoch},
		{Path: "dir", Dir: true},
	}
	if err := db.Update(ctx, func(tx *Tx) error {
		for _, e := range want {
			if err := tx.PutBase(e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		got, ok, err := db.BaseEntry(ctx, w.Path)
		if err != nil || !ok {
			t.Fatalf("BaseEntry(%s): %v %v", w.Path, ok, err)
		}
		if !got.LocalModTime.Equal(w.LocalModTime) || got.LocalModTime.IsZero() != w.LocalModTime.IsZero() ||
			!got.RemoteModTime.Equal(w.RemoteModTime) || got.RemoteModTime.IsZero() != w.RemoteModTime.IsZero() {
			t.Errorf("%s: times %v / %v, want %v / %v", w.Path, got.LocalModTime, got.RemoteModTime, w.LocalModTime, w.RemoteModTime)
		}
	}
}
