// Package mem is an in-memory connector for fast engine tests.
//
// A Conn keeps files and folders in a map guarded by one mutex. It passes the
// same conformance suite as every real connector, in every configuration its
// Options allow (case-insensitive names, coarse modification times, no
// server-side move, no trash), so engine tests can exercise the code paths a
// provider with those limits would take without any I/O.
//
// Besides the connectors.Connector methods, a Conn has helpers for tests:
// WriteFile, ReadFile, Files, Dirs and Remove change or inspect the store
// without going through the interface (and without calling the hook), and
// SetHook and SetReadFault inject failures into chosen operations.
//
// IDs come from a counter and survive Move; every content write gives a new
// Rev. With Options.NoMove or Options.NoTrash, use Conn.Connector to get a
// value that does not implement connectors.Mover or connectors.Trasher, so the
// engine takes its fallback path.
package mem
