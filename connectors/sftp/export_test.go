package sftp

// NoPosixRename makes c replace files as if the server lacked
// posix-rename@openssh.com, to test the fallback.
func NoPosixRename(c *Conn) { c.noPosixRename = true }

// ParseURLEnv is ParseURL with the environment given as a function.
var ParseURLEnv = parseURL

// PosixRenames counts the files c replaced with posix-rename@openssh.com.
func PosixRenames(c *Conn) int64 { return c.renames.Load() }
