package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/cruxd/cruxd/internal/account"
)

// request is one Update waiting for the writer.
type request struct {
	ctx   context.Context
	fn    func(account.Tx) error
	err   error
	panic any           // what fn panicked with, re-raised in the caller
	done  chan struct{} // closed once err is final
}

// failed reports whether r's fn returned an error or panicked.
func (r *request) failed() bool { return r.err != nil || r.panic != nil }

// Update hands fn to the writer and returns once the transaction holding it
// is committed, which with synchronous=FULL in WAL mode means the WAL
// holding the commit was synced, or fn's error after rolling back fn's
// writes alone. A ctx done before fn starts returns ctx.Err() and fn never
// runs; once fn started, Update waits for the commit whatever ctx says, so
// its answer is always the truth. A failed COMMIT fails every fn of the
// batch. A panic in fn is rolled back and re-raised here. A full disk, an
// I/O error, a read-only file or a damaged database is EUNAVAILABLE (see
// fault).
func (s *Store) Update(ctx context.Context, fn func(account.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	if err := s.health.refuse(); err != nil {
		return err
	}
	return s.health.fault(s.wr.do(ctx, fn))
}

// writer is group commit: one goroutine owns the write connection and runs
// every Update's fn, each in its own savepoint of one open transaction. It
// takes every request that arrived meanwhile into the same transaction (up
// to maxBatch) and commits them together: while one COMMIT waits for the
// disk, the next requests queue up and share the next one.
type writer struct {
	c        *conn
	store    *Store // the Tx given to fns belongs to it
	reqs     chan *request
	maxBatch int
	stop     chan struct{} // closed by Close once no Update is in flight
	done     chan struct{} // closed when loop returns
	health   *health
	wal      *walBound
	commits  atomic.Int64 // COMMITs that succeeded
}

func newWriter(c *conn, s *Store) *writer {
	return &writer{
		c: c, store: s,
		reqs:     make(chan *request, maxBatch),
		maxBatch: maxBatch,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		health:   &s.health,
		wal:      &s.wal,
	}
}

// do hands fn to the writer and waits for its outcome (see Update).
func (w *writer) do(ctx context.Context, fn func(account.Tx) error) error {
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-r.done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// loop is the writer goroutine, until stop is closed. A failed fn is
// answered at once, its writes rolled back; the others after their COMMIT.
func (w *writer) loop() {
	defer close(w.done)
	for {
		var r *request
		select {
		case r = <-w.reqs:
		case <-w.stop:
			// Close waited for every Update: nothing is queued.
			return
		}
		if err := w.wal.admit(w.c, w.health); err != nil {
			answerAll(w.drainAll(r), err)
			continue
		}
		t := w.begin(r)
		if t == nil {
			continue
		}
		var batch []*request
		if !w.run(r, t, &batch) {
			continue
		}
		open := w.drain(&batch, t)
		if open && len(batch) < w.maxBatch {
			// Let the handlers that are ready to run hand in their
			// Updates before the commit: a bigger batch shares the
			// commit's pages and its sync of the WAL. With nothing
			// else to run, Gosched returns at once.
			runtime.Gosched()
			open = w.drain(&batch, t)
		}
		if open && w.end(t, batch) {
			answer(batch)
		}
	}
}

// drain runs every request waiting, up to maxBatch, in the open
// transaction t, and reports whether t is still open.
func (w *writer) drain(batch *[]*request, t *tx) bool {
	for len(*batch) < w.maxBatch {
		select {
		case r := <-w.reqs:
			if !w.run(r, t, batch) {
				return false
			}
		default:
			return true
		}
	}
	return true
}

// drainAll returns r and every request waiting.
func (w *writer) drainAll(r *request) []*request {
	rs := []*request{r}
	for {
		select {
		case r := <-w.reqs:
			rs = append(rs, r)
		default:
			return rs
		}
	}
}

// answerAll answers every request of rs with err, without running them.
func answerAll(rs []*request, err error) {
	for _, r := range rs {
		r.err = err
		close(r.done)
	}
}

// begin starts the writer's transaction; if it cannot, r gets the error.
func (w *writer) begin(r *request) *tx {
	if _, err := w.c.exec(context.Background(), sqlBegin); err != nil {
		r.err = fmt.Errorf("begin: %w", err)
		close(r.done)
		return nil
	}
	return &tx{c: w.c, ctx: context.Background(), write: true, store: w.store}
}

// run runs r's fn in its own savepoint of t. A request that succeeded joins
// batch, to be answered after the commit; one that failed or was cancelled
// is answered now. run reports whether t is still open: if SQLite rolled
// it back, every fn of batch fails and is answered too.
func (w *writer) run(r *request, t *tx, batch *[]*request) bool {
	if err := r.ctx.Err(); err != nil {
		r.err = err
		close(r.done)
		return true
	}
	if err := w.inSavepoint(r, t); err != nil {
		// SQLite rolled the whole transaction back (SQLITE_FULL, I/O
		// error): nothing of this batch survives.
		w.abort(append(*batch, r), err)
		*batch = nil
		return false
	}
	if r.failed() {
		close(r.done)
	} else {
		*batch = append(*batch, r)
	}
	return true
}

// inSavepoint runs r's fn in a savepoint of t, setting r's outcome and
// rolling fn's writes back if it failed. An error from inSavepoint is the
// transaction's own: t is gone.
func (w *writer) inSavepoint(r *request, t *tx) error {
	bg := context.Background()
	if _, err := w.c.exec(bg, sqlSavepoint); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	r.err = runFn(r, t)
	if r.failed() {
		if _, err := w.c.exec(bg, sqlRollbackTo); err != nil {
			return fmt.Errorf("roll back to savepoint: %w", err)
		}
	}
	if _, err := w.c.exec(bg, sqlRelease); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// end ends the open transaction: it commits batch's writes and reports
// whether it did, or rolls back when no fn succeeded. If the COMMIT fails,
// every request of batch is answered with the error.
func (w *writer) end(t *tx, batch []*request) bool {
	if len(batch) == 0 {
		// Nothing to keep. Should ROLLBACK fail, the next BEGIN reports it
		// to its caller.
		_, _ = t.c.exec(context.Background(), sqlRollback)
		return false
	}
	if _, err := t.c.exec(context.Background(), sqlCommit); err != nil {
		w.abort(batch, fmt.Errorf("commit: %w", err))
		return false
	}
	w.commits.Add(1)
	w.health.committed()
	return true
}

// answer wakes the callers of a batch whose errors are final.
func answer(batch []*request) {
	for _, r := range batch {
		close(r.done)
	}
}

// Statements of the writer's transaction. The writer's statements run with
// a context that is never cancelled: interrupting a write inside a
// transaction would make SQLite roll back the whole batch.
const (
	sqlBegin      = "BEGIN IMMEDIATE"
	sqlCommit     = "COMMIT"
	sqlRollback   = "ROLLBACK"
	sqlSavepoint  = "SAVEPOINT fn"
	sqlRollbackTo = "ROLLBACK TO fn"
	sqlRelease    = "RELEASE fn"
)

// runFn runs one fn, catching its panic.
func runFn(r *request, t *tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panic = p
			err = errors.New("sqlite: fn panicked")
		}
	}()
	return r.fn(t)
}

// abort rolls the transaction back and answers every request of batch:
// the writes of those whose fn had succeeded are gone, so they get cause;
// the others keep their own error.
func (w *writer) abort(batch []*request, cause error) {
	// After some failures SQLite already rolled back; ROLLBACK then fails
	// harmlessly with "no transaction is active".
	_, _ = w.c.exec(context.Background(), sqlRollback)
	for _, r := range batch {
		if !r.failed() {
			r.err = cause
		}
		close(r.done)
	}
}
