// Package reconcile is Dovetail's decision core: a pure function from the
// base (what both sides agreed on after the last sync), the local listing
// and the remote listing to a plan of actions that makes both sides equal.
//
// It does no I/O, reads no clock and keeps no state, so every rule of the
// sync semantics is table-tested and fuzzed here:
//
//   - equal content on both sides is in sync, whatever the base says;
//   - a change on one side is applied to the other;
//   - a path changed on both sides is a conflict: one version stays at the
//     path (keep-local, keep-remote or keep-newer) and the other is kept as a
//     conflict revision next to it, on both sides;
//   - an edit beats a delete, also for a folder deleted on one side that
//     gained or changed content on the other;
//   - a file and a folder with the same path both survive;
//   - moves (same local inode or provider id at a new path) become moves;
//   - one-way directions never write to the source side.
//
// Changed reports, in one place, whether an entry differs from its base.
package reconcile
