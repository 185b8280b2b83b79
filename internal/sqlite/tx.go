package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// tx is an account.Tx on the writer's transaction (write) or on a reader's
// read transaction. Its statements run under ctx: the View's context for a
// reader, a never-cancelled one for the writer (see writer.go), so the ctx
// arguments of the Tx methods are not used.
type tx struct {
	c     *conn
	ctx   context.Context
	write bool
	store *Store // nil on a reader
}

var _ account.Tx = (*tx)(nil)

// errReadOnly is returned by the write methods of a View's Tx.
var errReadOnly = errors.New("sqlite: write in a read-only transaction")

func (t *tx) checkWrite() error {
	if !t.write {
		return errReadOnly
	}
	return nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	return t.c.exec(t.ctx, query, args...)
}

// row is a *sql.Row whose preparation may have failed.
type row struct {
	r   *sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

func (t *tx) queryRow(query string, args ...any) row {
	st, err := t.c.stmt(t.ctx, query)
	if err != nil {
		return row{err: err}
	}
	return row{r: st.QueryRowContext(t.ctx, args...)}
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := t.c.stmt(t.ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// affected returns the rows a statement changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// classify turns a unique-key violation into ECONFLICT and a missing parent
// row into ENOTFOUND, deciding by the driver's extended result code; what
// names the conflict (msg) must never be a secret. Other errors are wrapped
// with what.
func classify(err error, what, conflict, missing string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			if conflict != "" {
				return account.Errorf(account.ECONFLICT, "%s", conflict)
			}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			if missing != "" {
				return account.Errorf(account.ENOTFOUND, "%s", missing)
			}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// notFound maps sql.ErrNoRows to ENOTFOUND and wraps other errors.
func notFound(err error, what, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return account.Errorf(account.ENOTFOUND, "%s", msg)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Times are stored as INTEGER Unix nanoseconds, UTC; the zero time is 0.

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nullNano stores a nil or zero time as NULL.
func nullNano(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// nullID stores an id of 0 as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
