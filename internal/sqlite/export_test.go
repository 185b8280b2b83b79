package sqlite

import (
	"context"
	"os"

	"github.com/cruxd/cruxd/internal/account"
)

// QueuedUpdates returns how many Updates wait for the writer.
func QueuedUpdates(s *Store) int { return len(s.reqs) }

// Pragma returns the value of a pragma on the connection of a Tx.
func Pragma(ctx context.Context, t account.Tx, name string) (string, error) {
	var v string
	err := t.(*tx).c.c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// OpenWithSyncHook is Open with hook standing in for the fdatasync of the
// WAL, Open's own first one included.
func OpenWithSyncHook(ctx context.Context, path string, hook func(wal *os.File) error) (*Store, error) {
	return open(ctx, path, hook)
}

// Fdatasync is the store's fsync of the WAL.
var Fdatasync = fdatasync
