// Package local is the connector for a folder on the machine's own file
// system (Linux).
//
// Every path is checked with connectors.ValidPath and resolved through an
// os.Root opened on the sync root, and the last element of a path is then
// handled relative to its parent folder's descriptor with O_NOFOLLOW (or the
// *at system calls' equivalent), so neither a hostile name nor a symbolic
// link can make a write land outside the root. Walk never follows symbolic
// links at all: it reports them, and anything else that is not a regular
// file or folder, through its problem callback.
//
// Writes go to a temporary file ".dovetail.tmp.<name>.<random>" next to the
// destination and are renamed into place, so a reader sees the old or the
// new content and a crash leaves only debris that Recover removes. Put does
// not fsync each file: the engine calls Sync (syncfs(2)) once before it
// records completed work. With Options.TrashDir set, content that Put
// replaces or Trash removes is kept under <TrashDir>/<run stamp>/<path>.
//
// Modification times are stored and reported to the nanosecond (ext4, XFS,
// Btrfs); on a file system with coarser times (FAT, some network mounts) the
// listing reports what the file system kept, and the engine compares with
// that precision. Rev is size, modification time and inode: it changes with
// every Put (a new inode is renamed into place) but, unlike a provider's
// revision, could in theory repeat if an inode number is reused for a file
// of the same size and time.
package local
