package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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

// failed reports whether r's fn returned an error or panicked.
func (r *request) failed() bool { return r.err != nil || r.panic != nil }

// Update hands fn to the writer and returns once the transaction holding it
// is committed and the WAL holding the commit is fsync'd (see syncLoop), or
// fn's error after rolling back fn's writes alone. A ctx done before fn
// starts returns ctx.Err() and fn never runs; once fn started, Update waits
// for the commit whatever ctx says, so its answer is always the truth. A
// failed COMMIT or fsync fails every fn of the batch. A panic in fn is
// rolled back and re-raised here.
func (s *Store) Update(ctx context.Context, fn func(account.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	if err := s.failed.Load(); err != nil {
		return account.Unavailable(*err)
	}
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

// writeLoop is the writer goroutine, until Close. It runs each request's fn
// in its own savepoint of one open transaction and commits when the
// syncLoop is free to fsync the commit (or maxBatch fns ran): while the
// previous commit's fsync runs, the writer goes on adding requests to the
// next one, so one commit and one fsync serve all the requests that arrived
// meanwhile (group commit), and the writer never waits for the disk. A
// committed batch goes to syncLoop, which answers it once it is on disk;
// a failed fn is answered at once, its writes rolled back.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	defer close(s.syncs)
	var (
		batch   []*request // fns that ran in the open transaction
		t       *tx        // the open transaction; nil if none
		syncing bool       // syncLoop holds a committed batch
	)
	for {
		if t != nil && !syncing {
			open := s.drain(&batch, t)
			if open && len(batch) < maxBatch {
				// Let the handlers that are ready to run hand in their
				// Updates before the commit: a bigger batch shares the
				// commit's pages and fsync (Reset Password +4.6% on
				// average over four A/B pairs). With nothing else to
				// run, Gosched returns at once.
				runtime.Gosched()
				open = s.drain(&batch, t)
			}
			if open && s.end(t, batch) {
				s.syncs <- batch
				syncing = true
			}
			batch, t = nil, nil
			select {
			case s.ckptWake <- struct{}{}:
			default:
			}
			continue
		}
		reqs := s.reqs
		if len(batch) >= maxBatch {
			reqs = nil // wait for syncLoop
		}
		select {
		case r := <-reqs:
			if t == nil {
				if t = s.begin(r); t == nil {
					continue
				}
			}
			if !s.run(r, t, &batch) {
				t = nil
			}
		case <-s.synced:
			syncing = false
		case <-s.stop:
			// Close waited for every Update, so batch is empty and
			// syncLoop answered the last commit.
			return
		}
	}
}

// drain runs every request waiting, up to maxBatch, in the open
// transaction t, and reports whether t is still open.
func (s *Store) drain(batch *[]*request, t *tx) bool {
	for len(*batch) < maxBatch {
		select {
		case r := <-s.reqs:
			if !s.run(r, t, batch) {
				return false
			}
		default:
			return true
		}
	}
	return true
}

// begin starts the writer's transaction; if it cannot, r gets the error.
func (s *Store) begin(r *request) *tx {
	if _, err := s.w.exec(context.Background(), sqlBegin); err != nil {
		r.err = fmt.Errorf("begin: %w", err)
		close(r.done)
		return nil
	}
	return &tx{c: s.w, ctx: context.Background(), write: true, store: s}
}

// run runs r's fn in its own savepoint of t. A request that succeeded joins
// batch, to be answered after the commit; one that failed or was cancelled
// is answered now. run reports whether t is still open: if SQLite rolled
// it back, every fn of batch fails and is answered too.
func (s *Store) run(r *request, t *tx, batch *[]*request) bool {
	if err := r.ctx.Err(); err != nil {
		r.err = err
		close(r.done)
		return true
	}
	if err := s.inSavepoint(r, t); err != nil {
		// SQLite rolled the whole transaction back (SQLITE_FULL, I/O
		// error): nothing of this batch survives.
		s.abort(append(*batch, r), err)
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
func (s *Store) inSavepoint(r *request, t *tx) error {
	bg := context.Background()
	if _, err := s.w.exec(bg, sqlSavepoint); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	r.err = runFn(r, t)
	if r.failed() {
		if _, err := s.w.exec(bg, sqlRollbackTo); err != nil {
			return fmt.Errorf("roll back to savepoint: %w", err)
		}
	}
	if _, err := s.w.exec(bg, sqlRelease); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// end ends the open transaction: it commits batch's writes and reports
// whether it did, or rolls back when no fn succeeded. If the COMMIT fails,
// every request of batch is answered with the error.
func (s *Store) end(t *tx, batch []*request) bool {
	if len(batch) == 0 {
		// Nothing to keep. Should ROLLBACK fail, the next BEGIN reports it
		// to its caller.
		_, _ = t.c.exec(context.Background(), sqlRollback)
		return false
	}
	if _, err := t.c.exec(context.Background(), sqlCommit); err != nil {
		s.abort(batch, fmt.Errorf("commit: %w", err))
		return false
	}
	return true
}

// answer wakes the callers of a batch whose errors are final.
func answer(batch []*request) {
	for _, r := range batch {
		close(r.done)
	}
}

// syncLoop makes commits durable and then answers them: it fsyncs the WAL
// after each commit the writer hands it, wakes the commit's callers and
// tells the writer it is free. The writer connection commits with
// synchronous=NORMAL (its COMMIT writes the WAL frames but does not fsync
// them), so the writer runs the next requests while this goroutine waits
// for the disk: that is the only difference from synchronous=FULL, and no
// caller hears of a commit before its fsync. Readers may see a commit up to
// one fsync before it is durable; only an OS crash or power loss in that
// window can undo it, and no caller has been told it succeeded.
//
// If an fsync fails, the commits it covered may be lost whatever a later
// fsync says (Linux drops the failed pages' dirty state): their callers get
// the error, and the store refuses every later Update (EUNAVAILABLE) until
// it is reopened, which replays the WAL from disk.
func (s *Store) syncLoop() {
	defer close(s.syncDone)
	for batch := range s.syncs {
		if err := s.syncWAL(); err != nil {
			err = fmt.Errorf("sqlite: fsync of the WAL failed, commits may be lost: %w", err)
			s.failed.CompareAndSwap(nil, &err)
			for _, r := range batch {
				r.err = account.Unavailable(err)
			}
		}
		answer(batch)
		s.synced <- struct{}{}
	}
}

// syncWAL fsyncs the WAL file (see syncLoop). The WAL file keeps its inode
// while the store's connections are open: SQLite restarts and truncates it
// in place and deletes it only when the last connection closes.
func (s *Store) syncWAL() error {
	if s.syncHook != nil {
		return s.syncHook(s.wal)
	}
	return fdatasync(s.wal)
}

// checkpointEvery is the least time between two checkpoints. Each one
// writes every page changed since the last once, and fsyncs the database
// file: a page changed many times in a second (the newest leaves of the
// token and audit tables) is copied once. 1 s instead of 100 ms: Reset
// Password +3% and p99 at 1,000/s 2.5-3.0 -> 1.8-2.4 ms; the WAL grows to
// at most a second of writes (about 70 MB at full speed).
const checkpointEvery = time.Second

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
func (s *Store) abort(batch []*request, cause error) {
	// After some failures SQLite already rolled back; ROLLBACK then fails
	// harmlessly with "no transaction is active".
	_, _ = s.w.exec(context.Background(), sqlRollback)
	for _, r := range batch {
		if !r.failed() {
			r.err = cause
		}
		close(r.done)
	}
}
