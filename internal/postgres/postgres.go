// Package postgres implements account.Store on PostgreSQL with jackc/pgx.
// Several cruxd processes may share one database: every rule that must hold
// across them is enforced by a conditional update, a unique key or a row lock,
// never by process memory.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cruxd/cruxd/internal/account"
)

var _ account.Store = (*Store)(nil)

// Defaults for the zero fields of Options.
const (
	DefaultStatementTimeout = 5 * time.Second
	DefaultConnectTimeout   = 2 * time.Second
	DefaultAcquireTimeout   = 3 * time.Second
)

// updateAttempts bounds how often Update runs fn when PostgreSQL reports a
// serialization failure or a deadlock.
const updateAttempts = 5

// Options tune a Store. Zero fields take the defaults.
type Options struct {
	// MaxConns is the pool size; 0 keeps the DSN's pool_max_conns or pgx's
	// default (the larger of 4 and the number of CPUs).
	MaxConns int32
	// StatementTimeout bounds every statement on the server; 0 means
	// DefaultStatementTimeout, a negative value disables it.
	StatementTimeout time.Duration
	// NoMigrate skips applying migrations in Open; Open then fails unless
	// they were applied already (by `cruxd migrate`).
	NoMigrate bool
	// ConnectTimeout bounds dialing a new connection when the DSN sets no
	// connect_timeout; 0 means DefaultConnectTimeout. It keeps calls from
	// hanging while the server is unreachable.
	ConnectTimeout time.Duration
	// AcquireTimeout bounds the wait for a pooled connection; 0 means
	// DefaultAcquireTimeout. Past it a call fails with EUNAVAILABLE.
	AcquireTimeout time.Duration
	// AllowNewerSchema opens a database that a newer cruxd migrated
	// (migrations this binary does not know), declaring them compatible;
	// without it Open returns an *account.SchemaError.
	AllowNewerSchema bool
}

// Store is an account.Store on a PostgreSQL database. It is safe for
// concurrent use by many goroutines and many processes.
type Store struct {
	pool           *pgxpool.Pool
	acquireTimeout time.Duration
}

// Open connects to the database at dsn (postgres://… or key=value form) and,
// unless opt.NoMigrate, applies the embedded migrations under an advisory
// lock, so several processes may open an empty database at once. With
// NoMigrate it checks that the migrations were applied. The error is
// EUNAVAILABLE when the server cannot be reached.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err) // pgconn redacts the password
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	cc := cfg.ConnConfig
	switch st := opt.StatementTimeout; {
	case st == 0:
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	case st > 0:
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(st.Milliseconds(), 1), 10)
	default:
		cc.RuntimeParams["statement_timeout"] = "0"
	}
	// A session that died mid-transaction must not hold row locks for long.
	if _, ok := cc.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cc.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "cruxd"
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = orDefault(opt.ConnectTimeout, DefaultConnectTimeout)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, acquireTimeout: orDefault(opt.AcquireTimeout, DefaultAcquireTimeout)}
	if opt.NoMigrate {
		err = s.Ping(ctx)
	} else {
		err = s.Migrate(ctx)
	}
	if err == nil {
		err = s.checkSchema(ctx, opt.AllowNewerSchema)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// checkSchema returns an *account.SchemaError when the database records a
// migration newer than this binary's newest, unless allowNewer.
func (s *Store) checkSchema(ctx context.Context, allowNewer bool) error {
	var newest int
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("postgres: read schema_migrations: %w", classify(err))
	}
	if latest := latestVersion(); newest > latest && !allowNewer {
		return &account.SchemaError{Database: newest, Binary: latest}
	}
	return nil
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Close closes every connection of the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers and holds every migration this
// binary knows; EUNAVAILABLE otherwise.
func (s *Store) Ping(ctx context.Context) error {
	conn, err := s.acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres ping: %w", err)
	}
	defer conn.Release()
	var v int
	err = conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUndefinedTable {
		v, err = 0, nil
	}
	if err != nil {
		return fmt.Errorf("postgres ping: %w", classify(err))
	}
	if want := latestVersion(); v < want {
		return account.Unavailable(fmt.Errorf("postgres: schema is at migration %d, cruxd needs %d: run `cruxd migrate`", v, want))
	}
	return nil
}

// acquire takes a pooled connection, waiting at most the acquire timeout
// so that an exhausted pool or an unreachable server fails fast.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, s.acquireTimeout)
	defer cancel()
	conn, err := s.pool.Acquire(actx)
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			// Our own bound ran out, not the caller's.
			err = fmt.Errorf("acquire connection within %v: %w", s.acquireTimeout, err)
		}
		return nil, classify(err)
	}
	return conn, nil
}

// Update runs fn in a READ COMMITTED transaction and commits it. The rules
// that span processes rely on conditional updates, unique keys and row
// locks, which READ COMMITTED honours. On a serialization failure or a
// deadlock, and when a stale pooled connection fails before the transaction
// began, fn runs again, up to a few times. Errors are fn's, or EUNAVAILABLE
// while the database cannot be reached.
func (s *Store) Update(ctx context.Context, fn func(account.Tx) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}, fn)
}

// View runs fn in a read-only REPEATABLE READ transaction: its statements see
// one snapshot. Read-only transactions may later run on a replica.
func (s *Store) View(ctx context.Context, fn func(account.Tx) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (s *Store) run(ctx context.Context, opts pgx.TxOptions, fn func(account.Tx) error) error {
	return s.retry(ctx, func() error { return s.runOnce(ctx, opts, fn) })
}

// retry runs once, a transaction, again on a serialization failure or a
// deadlock, and when a stale pooled connection failed before the
// transaction began, up to updateAttempts times, and classifies its error.
func (s *Store) retry(ctx context.Context, once func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = once()
		if err == nil || attempt == updateAttempts || !retryable(err) || ctx.Err() != nil {
			break
		}
		// Jittered backoff so that colliding transactions spread out.
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << attempt))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if err != nil && retryable(err) && account.ErrorCode(err) == account.EINTERNAL {
		return account.Unavailable(err)
	}
	return classify(err)
}

// errBegin marks a failure to start a transaction: fn has not run, so
// another attempt is safe when pgconn says nothing reached the server.
type errBegin struct{ err error }

func (e *errBegin) Error() string { return "begin transaction: " + e.err.Error() }
func (e *errBegin) Unwrap() error { return e.err }

func (s *Store) runOnce(ctx context.Context, opts pgx.TxOptions, fn func(account.Tx) error) (err error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	ptx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return &errBegin{err}
	}
	defer func() {
		if err != nil {
			// The caller's context may be done; the rollback must still
			// be sent so the connection returns to the pool clean.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_ = ptx.Rollback(rctx)
		}
	}()
	if err := fn(&tx{tx: ptx, readOnly: opts.AccessMode == pgx.ReadOnly}); err != nil {
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// SQLSTATE codes the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeQueryCanceled        = "57014" // statement_timeout, or a cancel request
	codeUndefinedTable       = "42P01"
	codeReadOnlyTransaction  = "25006"
)

// retryable reports whether running the transaction again may succeed.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
	}
	var b *errBegin
	return errors.As(err, &b) && pgconn.SafeToRetry(err)
}

// classify maps a driver error to the domain: unique violations become
// ECONFLICT and a server that is down, shutting down, overloaded or too slow
// becomes EUNAVAILABLE. Domain errors and anything else pass unchanged.
// Errors are classified by SQLSTATE and type, never by message text.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ae *account.Error
	if errors.As(err, &ae) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == codeUniqueViolation:
			return account.Errorf(account.ECONFLICT, "It already exists.")
		case unavailableCode(pgErr.Code):
			return account.Unavailable(err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err // the caller gave up; nothing to retry
	}
	if connectionFailure(err) {
		return account.Unavailable(err)
	}
	return err
}

// unavailableCode reports whether a SQLSTATE means the server cannot serve
// now but may later: connection exceptions (08), insufficient resources
// (53, disk full 53100 among them), shutdown or startup (57P0x), a
// statement or lock timeout, a read-only server (a standby, or
// default_transaction_read_only).
func unavailableCode(code string) bool {
	switch {
	case len(code) == 5 && (code[:2] == "08" || code[:2] == "53" || code[:4] == "57P0"):
		return true
	case code == codeQueryCanceled, code == "55P03", code == codeReadOnlyTransaction: // 55P03: lock_not_available
		return true
	}
	return false
}

// connectionFailure reports whether err is the transport failing rather than
// a statement: dialing, a dead or closed connection, a timeout.
func connectionFailure(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) ||
		errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) ||
		pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		isNetError(err)
}

// isNetError reports whether err comes from the network connection.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
