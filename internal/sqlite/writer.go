package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// Update hands fn to the writer and returns once the transaction holding it
// is committed (synchronous=FULL: on disk), or fn's error after rolling
// back fn's writes alone. A ctx done before fn starts returns ctx.Err() and
// fn never runs; once fn started, Update waits for the commit whatever ctx
// says, so its answer is always the truth. A failed COMMIT fails every fn
// of the batch. A panic in fn is rolled back and re-raised here.
func (s *Store) Update(ctx context.Context, fn func(account.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-r.done
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// writeLoop is the writer goroutine: it takes every pending request, up to
// maxBatch, into one transaction, until Close.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*request, 0, maxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.stop:
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.runBatch(batch)
		for i, r := range batch {
			close(r.done)
			batch[i] = nil
		}
		select {
		case s.ckptWake <- struct{}{}:
		default:
		}
	}
}

// checkpointEvery is the least time between two checkpoints.
const checkpointEvery = 100 * time.Millisecond

// checkpointLoop copies the WAL into the database file after commits, at
// most every checkpointEvery, on its own connection: a PASSIVE checkpoint
// blocks neither the writer nor the readers, so the single writer no longer
// spends its time on it. Once a checkpoint copied every frame, the writer
// starts the WAL over. A failed checkpoint is tried again after the next
// commit.
func (s *Store) checkpointLoop() {
	defer close(s.ckptDone)
	for {
		select {
		case <-s.ckptWake:
		case <-s.stop:
			return
		}
		s.ckpt.exec(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)") //nolint:errcheck // retried after the next commit
		select {
		case <-time.After(checkpointEvery):
		case <-s.stop:
			return
		}
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

// runBatch runs each request's fn in its own savepoint of one transaction
// and commits once, setting each request's err.
func (s *Store) runBatch(batch []*request) {
	bg := context.Background()
	w := s.w
	if _, err := w.exec(bg, sqlBegin); err != nil {
		err = fmt.Errorf("begin: %w", err)
		for _, r := range batch {
			r.err = err
		}
		return
	}
	t := &tx{c: w, ctx: bg, write: true, store: s}
	ran := false
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if _, err := w.exec(bg, sqlSavepoint); err != nil {
			s.abort(batch, fmt.Errorf("savepoint: %w", err))
			return
		}
		r.err = runFn(r, t)
		if r.err != nil || r.panic != nil {
			if _, err := w.exec(bg, sqlRollbackTo); err != nil {
				// SQLite rolled the whole transaction back (SQLITE_FULL,
				// I/O error): nothing of this batch survives.
				s.abort(batch, fmt.Errorf("roll back to savepoint: %w", err))
				return
			}
		}
		if _, err := w.exec(bg, sqlRelease); err != nil {
			s.abort(batch, fmt.Errorf("release savepoint: %w", err))
			return
		}
		ran = ran || r.err == nil && r.panic == nil
	}
	if !ran {
		if _, err := w.exec(bg, sqlRollback); err != nil {
			s.abort(batch, fmt.Errorf("rollback: %w", err))
		}
		return
	}
	if _, err := w.exec(bg, sqlCommit); err != nil {
		s.abort(batch, fmt.Errorf("commit: %w", err))
	}
}

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

// abort rolls the transaction back and fails every request whose fn had
// succeeded: its writes are gone. Requests that failed keep their own error.
func (s *Store) abort(batch []*request, cause error) {
	// After some failures SQLite already rolled back; ROLLBACK then fails
	// harmlessly with "no transaction is active".
	_, _ = s.w.exec(context.Background(), sqlRollback)
	for _, r := range batch {
		if r.err == nil && r.panic == nil {
			r.err = cause
		}
	}
}
