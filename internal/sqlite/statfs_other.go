//go:build !linux

package sqlite

// freeBytes is unknown here: the WAL limit stays at its ceiling.
func freeBytes(string) (int64, bool) { return 0, false }
