package statedb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// ApplicationID is stored in PRAGMA application_id of every Dovetail state
// file ("DVT1"), so a SQLite file of another application is recognised.
const ApplicationID = 0x44565431

// DefaultHistoryLimit is the number of history rows kept unless
// DB.HistoryLimit says otherwise.
const DefaultHistoryLimit = 10000

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the ordered schema history, checked for gaps at load time.
var migrations = mustLoadMigrations(migrationFS)

// SchemaVersion is the schema version this binary creates and understands:
// the number of the newest embedded migration.
var SchemaVersion = migrations[len(migrations)-1].version

func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return ms
}

// loadMigrations reads migrations/NNNN_name.sql and insists on numbers 1..N
// without gaps, so a missing file is a build-time bug, not a silently skipped step.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := filepath.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("statedb: migration %s: name must be NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("statedb: migration %s: expected number %d", m.name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("statedb: no migrations embedded")
	}
	return ms, nil
}

// DB is an open state database. Its methods are safe for concurrent use;
// writes are serialised.
type DB struct {
	// HistoryLimit is how many history rows are kept; older rows are trimmed
	// when an Update that added history commits. Zero or negative keeps all.
	// Set it before the DB is shared between goroutines.
	HistoryLimit int

	path string
	sql  *sql.DB
	lock *fileLock

	writeMu   sync.Mutex // one Update at a time, without busy-waiting in SQLite
	closeOnce sync.Once
	closeErr  error
}

// dsn builds the go-sqlite3 URI for path. SQLite percent-decodes file: URIs and
// the driver splits options at the first '?', so the path's own '%', '?' and
// '#' are escaped.
func dsn(path string, params string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(filepath.ToSlash(path)) + "?" + params
}

// probeParams open the file without changing it: no journal_mode switch, so a
// foreign database is left exactly as it was found.
const probeParams = "_busy_timeout=5000"

// mainParams are the settings every pooled connection runs with. _txlock=immediate
// takes the write lock at BEGIN, so a transaction never fails half-way when
// upgrading from a read lock.
const mainParams = "_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate"

// Open opens the state database at path, creating it (and missing parent
// folders, mode 0700; the file mode 0600) if needed, and migrates it to the
// current schema in one transaction. It holds an exclusive lock on path+".lock"
// until Close, and refuses damaged ([ErrCorrupt]), foreign ([ErrForeign]) and
// too-new ([ErrTooNew]) files with a message naming the file and the way out.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	path = abs
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create folder for state file %s: %w", path, err)
	}
	lock, err := acquireLock(path)
	if err != nil {
		return nil, err
	}
	db, err := open(ctx, path, lock)
	if err != nil {
		lock.release()
		return nil, err
	}
	return db, nil
}

func open(ctx context.Context, path string, lock *fileLock) (*DB, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A fresh file must not pick up companions left by a database that was
		// deleted by hand: SQLite would replay that old WAL into the new file.
		if _, err := moveAside(path, true); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create state file %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("create state file %s: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("state file %s: %w", path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("state file %s is a folder; --state must name a file", path)
	}

	if err := probe(ctx, path); err != nil {
		return nil, err
	}

	sdb, err := sql.Open("sqlite3", dsn(path, mainParams))
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	// Several connections let reads (and a LoadBase callback) run beside an
	// Update; keeping them idle avoids re-running the connection pragmas.
	sdb.SetMaxOpenConns(8)
	sdb.SetMaxIdleConns(8)
	db := &DB{HistoryLimit: DefaultHistoryLimit, path: path, sql: sdb, lock: lock}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// probe identifies and checks the file through a connection that changes
// nothing, before the main pool switches it to WAL.
func probe(ctx context.Context, path string) error {
	pdb, err := sql.Open("sqlite3", dsn(path, probeParams))
	if err != nil {
		return fmt.Errorf("open state file %s: %w", path, err)
	}
	defer pdb.Close()
	pdb.SetMaxOpenConns(1)

	var appID, version, objects int
	if err := pdb.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return classify(path, "read", err)
	}
	if err := pdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return classify(path, "read", err)
	}
	if err := pdb.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&objects); err != nil {
		return classify(path, "read", err)
	}
	switch {
	case appID == ApplicationID:
		if version > SchemaVersion {
			return tooNewError(path, version, SchemaVersion)
		}
	case appID != 0:
		return foreignError(path, fmt.Sprintf("it is a SQLite database with application id %#x", uint32(appID)))
	case objects > 0 || version != 0:
		return foreignError(path, "it is a SQLite database without Dovetail's schema")
	default:
		return nil // empty: a new state file
	}

	rows, err := pdb.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return classify(path, "check", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return classify(path, "check", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return classify(path, "check", err)
	}
	if len(problems) > 0 {
		return corruptError(path, quickCheckDetail(problems), nil)
	}
	return nil
}

// migrate applies the missing migrations and stamps the file, all in one
// transaction: a crash leaves the file either fully at the old version or
// fully at the new one.
func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return classify(db.path, "open", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return classify(db.path, "read", err)
	}
	if version > SchemaVersion {
		return tooNewError(db.path, version, SchemaVersion)
	}
	if version == SchemaVersion {
		return nil
	}
	if version == 0 {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
			return classify(db.path, "initialise", err)
		}
	}
	for _, m := range migrations[version:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return classify(db.path, "migrate", fmt.Errorf("migration %s: %w", m.name, err))
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
		return classify(db.path, "migrate", err)
	}
	if err := tx.Commit(); err != nil {
		return classify(db.path, "migrate", err)
	}
	return nil
}

// Close closes the database and releases the lock. Further calls return the
// first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		err := db.sql.Close()
		if lerr := db.lock.release(); err == nil {
			err = lerr
		}
		if err != nil {
			db.closeErr = fmt.Errorf("close state file %s: %w", db.path, err)
		}
	})
	return db.closeErr
}

// Path returns the absolute path of the state file.
func (db *DB) Path() string { return db.path }
