// Package watch reports which paths under a local folder may have changed,
// in debounced batches, so that the agent reconciles just those paths.
//
// A Watcher puts one inotify watch (through fsnotify) on every folder of
// the tree, adds a watch to each folder as soon as it appears and asks for
// that folder to be rescanned, since files created before its watch was in
// place raised no event. Events are coalesced by path: an editor's save
// (write a temporary file, rename it over the original) is one change of
// the file, and a storm of thousands of events is a handful of batches.
//
// Nothing is silently lost: a kernel queue overflow, a folder that cannot
// be watched (the inotify watch limit), or a root that disappears or is
// replaced each become a Rescan of the subtree concerned, which the
// consumer lists fully. Folders that cannot be watched are rescanned
// periodically until a watch can be added.
//
// What a consumer sees, for each change under the root:
//
//   - a file created, written, touched, removed: its path in Paths;
//   - a file renamed within the tree: both names in Paths;
//   - a folder created or moved in: the folder in Rescan (reason "new
//     folder"), and its whole subtree is watched;
//   - a folder removed, renamed away or moved out: its path in Paths, and
//     its watches are dropped (a folder renamed within the tree is thus its
//     old path in Paths and its new one in Rescan);
//   - a temporary file created and gone again within one batch: nothing;
//   - the agent's own write announced with Expect: nothing.
//
// The Watcher is meant for Linux (inotify). It builds everywhere fsnotify
// does, but elsewhere a folder watch may not report changes to the files in
// it.
package watch
