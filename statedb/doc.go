// Package statedb is the SQLite state database of one sync pair: the base tree
// (what both sides agreed on after the last successful sync), intents recorded
// before destructive actions, a bounded history of what was done, conflicts,
// and small key/value settings.
//
// One file per pair, opened by exactly one process at a time: [Open] takes an
// exclusive lock on PATH.lock and fails with [ErrLocked] while another Dovetail
// process holds it. The file runs in WAL mode with synchronous=FULL, so a
// committed [DB.Update] survives a power cut; because each commit costs an
// fsync, callers batch their writes into one Update per unit of work.
//
// Open refuses files it cannot trust rather than guessing: a damaged file
// ([ErrCorrupt]), a SQLite file of another application ([ErrForeign]) and a
// file written by a newer Dovetail ([ErrTooNew]) each get an error that names
// the file and says what to do. [Reset] moves a damaged file aside (it never
// deletes) so the next sync starts as a first run.
//
// The schema lives in numbered migrations under migrations/, embedded in the
// binary and applied in order inside one transaction; PRAGMA user_version
// records how far a file has been migrated and PRAGMA application_id marks it
// as Dovetail's.
package statedb
