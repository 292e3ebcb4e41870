-- 0001: the first Dovetail state schema.
--
-- Times are int64 Unix nanoseconds, 0 meaning "unknown / zero time".
-- Text columns are NOT NULL with '' meaning "unknown" so scans need no NULL handling.
-- Later migrations add tables (dirty-path journal, per-connection change cursors)
-- next to these; small scalar state (hash kind, pair identity) lives in meta.

-- meta holds small key/value settings of the pair, e.g. which hash type base.hash holds.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- base is the tree both sides agreed on after the last successful sync of each path.
-- WITHOUT ROWID clusters rows by path, so full loads and subtree ranges are
-- sequential reads of the primary key in byte order.
CREATE TABLE base (
    path          TEXT PRIMARY KEY NOT NULL,
    dir           INTEGER NOT NULL DEFAULT 0,
    size          INTEGER NOT NULL DEFAULT 0,
    hash          TEXT NOT NULL DEFAULT '',
    local_mtime   INTEGER NOT NULL DEFAULT 0,
    local_id      TEXT NOT NULL DEFAULT '',
    local_rev     TEXT NOT NULL DEFAULT '',
    remote_mtime  INTEGER NOT NULL DEFAULT 0,
    remote_id     TEXT NOT NULL DEFAULT '',
    remote_rev    TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- intents are recorded before a destructive action and removed once it is done,
-- so a crash in between is resolved on restart.
CREATE TABLE intents (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    time  INTEGER NOT NULL,
    op    TEXT NOT NULL,
    side  TEXT NOT NULL,
    path  TEXT NOT NULL,
    dest  TEXT NOT NULL DEFAULT ''
);

-- history is a bounded log of what was done; only the oldest rows are ever
-- removed (by the trim at commit), so ids stay contiguous.
CREATE TABLE history (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    time  INTEGER NOT NULL,
    op    TEXT NOT NULL,
    side  TEXT NOT NULL,
    path  TEXT NOT NULL,
    dest  TEXT NOT NULL DEFAULT '',
    size  INTEGER NOT NULL DEFAULT 0,
    err   TEXT NOT NULL DEFAULT ''
);

-- conflicts lists every conflict revision Dovetail created; resolved_at 0 means open.
CREATE TABLE conflicts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    time           INTEGER NOT NULL,
    path           TEXT NOT NULL,
    revision_path  TEXT NOT NULL,
    kept_side      TEXT NOT NULL,
    revision_side  TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    resolved_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conflicts_open ON conflicts(id) WHERE resolved_at = 0;
