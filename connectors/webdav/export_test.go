package webdav

// SetBeforeCommit makes Put call f between its upload and the request
// that puts the content at the real name; the returned func undoes it.
func SetBeforeCommit(f func(p string)) (restore func()) {
	old := testHookBeforeCommit
	testHookBeforeCommit = f
	return func() { testHookBeforeCommit = old }
}

// AtomicPut reports whether New found the server's PUT atomic.
func AtomicPut(c *Conn) bool { return c.atomicPut }

// TempName is tempName, for tests that leave debris on purpose.
func TempName(name string) string { return tempName(name) }
