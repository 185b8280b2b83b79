package sqlite

import (
	"context"

	"github.com/cruxd/cruxd/internal/account"
)

// QueuedUpdates returns how many Updates wait for the writer.
func QueuedUpdates(s *Store) int { return len(s.wr.reqs) }

// Pragma returns the value of a pragma on the connection of a Tx.
func Pragma(ctx context.Context, t account.Tx, name string) (string, error) {
	var v string
	err := t.(*tx).c.c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// SetMaxBatch sets how many Updates the writer commits together at most;
// 1 turns group commit off. Call it before any Update.
func SetMaxBatch(s *Store, n int) { s.wr.maxBatch = n }

// Commits returns how many COMMITs of Updates succeeded.
func Commits(s *Store) int64 { return s.wr.commits.Load() }

// WALTruncateTo is the WAL size SQLite truncates to after a checkpoint.
const WALTruncateTo = walTruncateTo

// WALLimit returns the WAL size past which s waits for a checkpoint.
func WALLimit(s *Store) int64 { return s.wal.limit }
