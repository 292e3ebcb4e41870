package local

// WithoutOpenat2 makes c resolve paths one element at a time, as it does on
// kernels without openat2(2), so that tests cover that path too.
func WithoutOpenat2(c *Conn) *Conn {
	c.noOpenat2 = true
	return c
}

// UsesOpenat2 reports whether c resolves paths with openat2(2).
func UsesOpenat2(c *Conn) bool { return !c.noOpenat2 && openat2State.Load() != 2 }

// SyncfsCalls reports how often Sync fell back to syncfs.
func SyncfsCalls() int64 { return syncfsCalls.Load() }
