package s3

// SetCopyLimit lowers the size from which Move copies an object in parts,
// and returns a function that restores it.
func SetCopyLimit(n int64) (restore func()) {
	old := copyLimit
	copyLimit = n
	return func() { copyLimit = old }
}
