package sqlite

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/cruxd/cruxd/internal/account"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDamaged is in the chain of the errors of a Store whose database file
// SQLite found malformed: it writes nothing more until it is reopened on a
// restored file.
var ErrDamaged = errors.New("sqlite: the database file is damaged: stop cruxd and restore the file from a backup (`cruxd check --db FILE` lists the damage)")

// health is what the store learnt of its database file from SQLite's
// errors: whether writes fail for want of room, of a working disk or of
// write access (until the next commit), and whether the file is damaged
// (for good).
type health struct {
	log     *slog.Logger
	failing atomic.Pointer[error] // the last write's failure; nil once a commit succeeded
	damaged atomic.Pointer[error]
}

// refuse returns the EUNAVAILABLE error Updates get once the file is
// damaged, nil before.
func (h *health) refuse() error {
	if p := h.damaged.Load(); p != nil {
		return account.Unavailable(*p)
	}
	return nil
}

// fault classifies a write's error by SQLite's result code: a full disk,
// an I/O error or a read-only file is EUNAVAILABLE until a commit
// succeeds again; a malformed file is EUNAVAILABLE for good. Other errors
// pass unchanged.
func (h *health) fault(err error) error { return h.classify(err, true) }

// readFault is fault for a read: the result code decides the error, and
// only a damaged file changes the store's state.
func (h *health) readFault(err error) error { return h.classify(err, false) }

func (h *health) classify(err error, write bool) error {
	switch faultOf(err) {
	case faultDamaged:
		h.markDamaged(err)
		return account.Unavailable(fmt.Errorf("%w: %w", ErrDamaged, err))
	case faultUnavailable:
		if write && h.failing.Swap(&err) == nil {
			h.log.Error("sqlite: writes fail; answering 503 until one succeeds", "err", err)
		}
		return account.Unavailable(err)
	}
	return err
}

// markDamaged records that the file is damaged and says so once in the log.
func (h *health) markDamaged(err error) {
	if h.damaged.CompareAndSwap(nil, &err) {
		h.log.Error(ErrDamaged.Error(), "err", err)
	}
}

// committed records a successful commit: writes work.
func (h *health) committed() {
	if h.failing.Load() != nil && h.failing.Swap(nil) != nil {
		h.log.Info("sqlite: writes succeed again")
	}
}

type fault int

const (
	faultNone fault = iota
	faultUnavailable
	faultDamaged
)

// faultOf returns the class of SQLite's primary result code in err's chain.
// Errors already classified in the domain are left alone.
func faultOf(err error) fault {
	var se *sqlite.Error
	var de *account.Error
	if err == nil || errors.As(err, &de) || !errors.As(err, &se) {
		return faultNone
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return faultDamaged
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
		return faultUnavailable
	}
	return faultNone
}
