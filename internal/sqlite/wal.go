package sqlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/cruxd/cruxd/internal/account"
)

// The WAL size past which writes wait for a checkpoint (see walBound), when
// Options.WALLimit does not set it: half the room free beside the database
// when it opens, between minWALLimit and maxWALLimit. Half, so that once
// the reader ends the checkpoint still finds room to copy the WAL into the
// database file.
const (
	minWALLimit = 8 << 20
	maxWALLimit = 256 << 20
)

// defaultWALLimit returns the WAL limit for a database in dir.
func defaultWALLimit(dir string) int64 {
	free, ok := freeBytes(dir)
	if !ok {
		return maxWALLimit
	}
	return min(max(free/2, minWALLimit), maxWALLimit)
}

// walTruncateTo is journal_size_limit: each time SQLite starts the WAL over
// after a complete checkpoint it truncates the file to this size, so a WAL
// that a long reader let grow gives its room back.
const walTruncateTo = 4 << 20

// errWALPinned is the cause of the EUNAVAILABLE error of writes refused
// while a reader keeps the WAL from being checkpointed.
var errWALPinned = errors.New("sqlite: the WAL is over its limit and a read transaction keeps it from being checkpointed")

// walBound keeps the WAL under a limit. SQLite checkpoints automatically
// after commits, but a checkpoint cannot go past the snapshot of the oldest
// open read transaction (a backup, a sqlite3 shell), so while one is open
// the WAL grows with every commit until the disk is full, and a full disk
// leaves the checkpoint no room to copy the WAL into the database. Past
// the limit the writer tries a checkpoint before each transaction and,
// while a reader still pins the WAL, refuses the writes (EUNAVAILABLE)
// instead of filling the disk. Once the reader ends, the next write
// completes the checkpoint and SQLite truncates the WAL to walTruncateTo.
type walBound struct {
	path   string // the -wal file
	limit  int64
	log    *slog.Logger
	pinned atomic.Bool
}

// size returns the WAL file's size, 0 if it does not exist.
func (w *walBound) size() int64 {
	fi, err := os.Stat(w.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// admit returns nil when the writer may start a transaction on c: the WAL
// is under its limit, or a checkpoint copied all of it.
func (w *walBound) admit(c *conn, h *health) error {
	if h.failing.Load() != nil {
		// The last write failed (a full disk, an I/O error): see whether
		// SQLite can copy the WAL into the database now, which needs the
		// room and the working disk a write does, before taking a batch.
		var busy, frames, copied int
		if err := c.c.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
			return h.fault(fmt.Errorf("checkpoint: %w", err))
		}
	}
	if w.size() <= w.limit {
		w.setPinned(false, nil)
		return nil
	}
	var busy, frames, copied int
	err := c.c.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if err == nil && copied == frames {
		// Nothing in the WAL is needed any more: the next commit
		// starts it over and truncates it.
		w.setPinned(false, nil)
		return nil
	}
	if err == nil {
		err = fmt.Errorf("%w (%d of %d frames copied)", errWALPinned, copied, frames)
	}
	w.setPinned(true, err)
	return account.Unavailable(err)
}

// setPinned records whether the WAL is stuck over its limit and logs each
// change once.
func (w *walBound) setPinned(pinned bool, err error) {
	if w.pinned.Swap(pinned) == pinned {
		return
	}
	if pinned {
		w.log.Error("sqlite: the WAL is over its limit and cannot be checkpointed: writes answer 503 until the read transaction that pins it ends",
			"wal_bytes", w.size(), "limit", w.limit, "err", err)
	} else {
		w.log.Info("sqlite: the WAL was checkpointed; writes resume", "wal_bytes", w.size())
	}
}

// WALBytes returns the size of the WAL file in bytes.
func (s *Store) WALBytes() int64 { return s.wal.size() }

// WALPinned reports whether the WAL is over its limit and a read
// transaction keeps it from being checkpointed: writes answer EUNAVAILABLE
// meanwhile.
func (s *Store) WALPinned() bool { return s.wal.pinned.Load() }
