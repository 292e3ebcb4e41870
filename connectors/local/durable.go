package local

import (
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Durability. Sync makes the writes since the last Sync durable. Most syncs of a
// running agent follow a handful of changes: those fsync just the files
// written and the folders whose entries changed, as a careful editor would.
// syncfs(2) flushes the whole file system — everything every other program
// wrote too, which on a busy NAS disk can take seconds — so it is used only
// when the batch is large (an initial sync), where one syncfs is far
// cheaper than thousands of fsyncs, or when the trash was written.

// syncfsCalls counts Sync's calls of syncfs (for tests).
var syncfsCalls atomic.Int64

// maxTargeted is the largest batch Sync flushes path by path.
const maxTargeted = 64

// durability records what the next Sync must flush.
type durability struct {
	files, dirs map[string]bool
	all         bool // too many, or the trash: flush the file system
}

// touched notes that the file at file (if not "") was written and the
// entries of the folders dirs changed.
func (c *Conn) touched(file string, dirs ...string) {
	c.durMu.Lock()
	defer c.durMu.Unlock()
	d := &c.dur
	if d.all {
		return
	}
	if d.files == nil {
		d.files, d.dirs = map[string]bool{}, map[string]bool{}
	}
	if file != "" {
		d.files[file] = true
	}
	for _, dir := range dirs {
		d.dirs[dir] = true
	}
	d.all = len(d.files)+len(d.dirs) > maxTargeted
}

// touchedAll notes a change Sync can only make durable with syncfs.
func (c *Conn) touchedAll() {
	c.durMu.Lock()
	c.dur.all = true
	c.durMu.Unlock()
}

// takeDurability returns what to flush and starts a new batch.
func (c *Conn) takeDurability() durability {
	c.durMu.Lock()
	defer c.durMu.Unlock()
	d := c.dur
	c.dur = durability{}
	return d
}

// syncTargeted fsyncs each file and folder of d; a path that is gone
// since (moved or deleted later in the batch) needs nothing.
func (c *Conn) syncTargeted(h *dirHandle, d durability) error {
	defer runtime.KeepAlive(h)
	flush := func(p string, dir bool) error {
		flags := unix.O_RDONLY | unix.O_NONBLOCK
		if dir {
			flags |= unix.O_DIRECTORY
		}
		fd, err := c.openBeneath(h.fd, p, flags)
		if err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP {
			return nil
		}
		if err != nil {
			return c.wrap("sync", p, err)
		}
		defer unix.Close(fd)
		if err := unix.Fsync(fd); err != nil {
			return c.wrap("sync", p, err)
		}
		return nil
	}
	for p := range d.files {
		if err := flush(p, false); err != nil {
			return err
		}
	}
	for p := range d.dirs {
		if err := flush(p, true); err != nil {
			return err
		}
	}
	return nil
}
