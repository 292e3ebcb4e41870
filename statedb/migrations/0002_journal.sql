-- 0002: the dirty-path journal of the continuous agent.
--
-- A watcher or poller that sees a path change records it here before the
-- agent reconciles it, and the row is removed only once a run covering the
-- path has finished, so a restart (even after kill -9) resumes every change
-- that was seen but not yet synced. side is 'local' or 'remote'; path ''
-- with subtree 1 means "the whole tree".
CREATE TABLE journal (
    side     TEXT NOT NULL,
    path     TEXT NOT NULL,
    subtree  INTEGER NOT NULL DEFAULT 0,
    time     INTEGER NOT NULL,
    PRIMARY KEY (side, path)
) WITHOUT ROWID;
