// Package sqlite implements account.Store on one SQLite database file with
// the pure-Go modernc.org/sqlite driver.
//
// One writer connection, owned by one goroutine, runs every Update: it takes
// all pending Updates into one transaction, each in its own savepoint, and
// commits them together (group commit, see writeLoop). Commits are durable
// by SQLite's own rule: in WAL mode with synchronous=FULL every commit
// syncs the WAL before it returns. SQLite checkpoints the WAL into the
// database file by itself; walBound keeps a long reader from letting the
// WAL fill the disk. Views run on a small pool of query-only connections,
// each in a read transaction, so they see one consistent snapshot and
// never wait for the writer (WAL mode).
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.up.sql
var migrationFS embed.FS

// ErrClosed is in the chain of the EUNAVAILABLE error returned by calls on a
// closed Store.
var ErrClosed = errors.New("sqlite: store closed")

const (
	maxBatch   = 128 // Updates committed together at most
	maxReaders = 8   // read connections at most
)

// Store is an account.Store on an SQLite database file. It is safe for
// concurrent use. Calling Update or View from inside an Update's fn
// deadlocks: use the Tx given to fn.
type Store struct {
	path string
	wdb  *sql.DB // one connection: the writer's
	rdb  *sql.DB // query-only connections of the readers
	w    *conn
	wr   *writer // runs every Update on w

	readers chan *conn // free read connections; nil means not yet opened
	latest  int        // the newest migration version
	health  health
	wal     walBound

	mu       sync.RWMutex // guards closed against inflight.Add
	closed   bool
	inflight sync.WaitGroup

	hits int // reservations since the last counter purge; writer goroutine only
}

var _ account.Store = (*Store)(nil)

// Options tune Open.
type Options struct {
	// WALLimit is the WAL size in bytes past which writes wait for a
	// checkpoint (EUNAVAILABLE while a reader prevents it); 0 means half
	// the room free beside the database at Open, from 8 to 256 MiB.
	WALLimit int64
	// NoMigrate applies no migration: Open fails unless every one was
	// applied already (by `cruxd migrate`).
	NoMigrate bool
	// AllowNewerSchema opens a database that a newer cruxd migrated
	// (migrations this binary does not know), declaring them compatible.
	AllowNewerSchema bool
	// Logger receives the store's few log lines: a damaged file, writes
	// failing and recovering, a WAL that cannot be checkpointed. nil
	// discards them.
	Logger *slog.Logger
}

// Open opens the database file at path with the default Options.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith opens the database file at path, creating it if needed, checks
// it (quick_check, bounded by quickCheckTimeout), applies the migrations it
// lacks and starts the writer. Close releases it. A damaged file is an
// error with ErrDamaged in its chain; a database migrated by a newer cruxd
// is an *account.SchemaError unless opt.AllowNewerSchema.
func OpenWith(ctx context.Context, path string, opt Options) (_ *Store, err error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: unusable database path %q", path)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		path:   path,
		health: health{log: log},
		wal:    walBound{path: path + "-wal", limit: opt.WALLimit, log: log},
	}
	defer func() {
		if err != nil {
			s.closeFiles() //nolint:errcheck // err is the one to report
		}
	}()
	if s.wdb, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	c, err := s.wdb.Conn(ctx)
	if faultOf(err) == faultDamaged {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if s.wal.limit == 0 {
		s.wal.limit = defaultWALLimit(filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.w = newConn(c)
	if err := quickCheck(ctx, c, log); err != nil {
		return nil, err
	}
	if s.latest, err = migrate(ctx, c, !opt.NoMigrate); err != nil {
		return nil, s.health.fault(err)
	}
	if err := checkSchema(ctx, c, s.latest, opt.AllowNewerSchema, log); err != nil {
		return nil, err
	}

	n := min(max(runtime.GOMAXPROCS(0), 4), maxReaders)
	if s.rdb, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.rdb.SetMaxOpenConns(n)
	s.rdb.SetMaxIdleConns(n)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(0)
	s.readers = make(chan *conn, n)
	for range n {
		s.readers <- nil
	}
	s.wr = newWriter(s.w, s)
	go s.wr.loop()
	return s, nil
}

// closeFiles closes the connections and the pools that are open.
func (s *Store) closeFiles() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	if s.readers != nil {
		for range cap(s.readers) {
			if c := <-s.readers; c != nil {
				errs = append(errs, c.close())
			}
		}
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

// dsn returns the driver's data source name: every connection gets WAL,
// a busy timeout and foreign keys. Readers are query-only. The writer gets
// synchronous=FULL: each COMMIT syncs the WAL before it returns, so a
// commit survives power loss once its Update returned. SQLite's automatic
// checkpoint (every 1000 pages of WAL, PASSIVE, on the committing
// connection) copies the WAL into the database file.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walTruncateTo))
		// 16 MiB of page cache (SQLite's default is 2 MiB) keeps the
		// index pages the writer searches on every reset in memory
		// instead of a pread each (docs/perf.md).
		q.Add("_pragma", "cache_size(-16384)")
		// The writer's savepoints (one per Update of a batch) keep the
		// sub-journal in memory: past 64 KiB SQLite would spill it to a
		// temporary file, two write syscalls per page. It only serves
		// ROLLBACK TO; durability is the WAL's.
		q.Add("_pragma", "temp_store(memory)")
	}
	return path + "?" + q.Encode()
}

// Close waits for the Updates and Views in progress, stops the writer and
// closes the database. Calls made after Close return EUNAVAILABLE.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.inflight.Wait()
	if s.wr != nil {
		close(s.wr.stop)
		<-s.wr.done
	}
	return s.closeFiles()
}

// enter registers a call in progress; it fails once Close has begun.
func (s *Store) enter() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return account.Unavailable(ErrClosed)
	}
	s.inflight.Add(1)
	return nil
}

// View runs fn in a read transaction on a read connection and returns fn's
// error. Write methods of its Tx fail.
func (s *Store) View(ctx context.Context, fn func(account.Tx) error) (err error) {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	var c *conn
	select {
	case c = <-s.readers:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { s.readers <- c }()
	if c == nil {
		sc, err := s.rdb.Conn(ctx)
		if err != nil {
			return fmt.Errorf("open read connection: %w", err)
		}
		c = newConn(sc)
	}
	if _, err := c.exec(ctx, "BEGIN"); err != nil {
		c = c.discard()
		return s.health.readFault(fmt.Errorf("begin read: %w", err))
	}
	defer func() {
		// A read transaction has nothing to keep; a connection that cannot
		// end it is replaced.
		if _, rerr := c.exec(context.Background(), "ROLLBACK"); rerr != nil {
			c = c.discard()
			if err == nil {
				err = fmt.Errorf("end read: %w", rerr)
			}
		}
	}()
	return s.health.readFault(fn(&tx{c: c, ctx: ctx}))
}

// Ping reports whether the readers answer, the latest migration is
// recorded and the writer can commit: it rewrites that migration's row, so
// a full disk, a read-only file, a damaged file or a WAL that cannot be
// checkpointed fail it (EUNAVAILABLE) until writes work again.
func (s *Store) Ping(ctx context.Context) error {
	err := s.View(ctx, func(t account.Tx) error {
		var v int
		err := t.(*tx).queryRow(sqlLatestMigration, s.latest).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: migration %d not applied", s.latest)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := s.Update(ctx, func(t account.Tx) error {
		_, err := t.(*tx).exec(sqlTouchMigration, s.latest)
		return err
	}); err != nil {
		return fmt.Errorf("ping writer: %w", err)
	}
	return nil
}

// Migrations returns the versions of the applied migrations, in order.
func (s *Store) Migrations(ctx context.Context) ([]int, error) {
	var vs []int
	err := s.View(ctx, func(t account.Tx) error {
		rows, err := t.(*tx).query(`SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				return err
			}
			vs = append(vs, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	return vs, nil
}

const (
	sqlLatestMigration = `SELECT version FROM schema_migrations WHERE version = ?`
	sqlTouchMigration  = `UPDATE schema_migrations SET applied_at = applied_at WHERE version = ?`
)

// migrate applies the embedded migrations the database lacks, each in its
// own transaction recorded in schema_migrations, and returns the newest
// version. Unless apply, it applies none and fails on the first one missing.
func migrate(ctx context.Context, c *sql.Conn, apply bool) (int, error) {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`
	if apply {
		if _, err := c.ExecContext(ctx, create); err != nil {
			return 0, fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	names, err := fs.Glob(migrationFS, "migrations/*.up.sql")
	if err != nil {
		return 0, err
	}
	type migration struct {
		version int
		name    string
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("migration %s: name must start with a positive number", base)
		}
		ms = append(ms, migration{v, name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	latest := 0
	for _, m := range ms {
		if m.version == latest {
			return 0, fmt.Errorf("migration %d defined twice", m.version)
		}
		latest = m.version
		if !apply {
			var v int
			if err := c.QueryRowContext(ctx, sqlLatestMigration, m.version).Scan(&v); err != nil {
				return 0, fmt.Errorf("migration %d not applied (run cruxd migrate): %w", m.version, err)
			}
			continue
		}
		if err := applyMigration(ctx, c, m.version, m.name); err != nil {
			return 0, err
		}
	}
	return latest, nil
}

// applyMigration runs one migration unless it is recorded. The check runs
// inside the write transaction, so two processes opening one file at once
// never apply a migration twice.
func applyMigration(ctx context.Context, c *sql.Conn, version int, name string) (err error) {
	body, err := migrationFS.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migration %d: begin: %w", version, err)
	}
	defer func() {
		if err != nil {
			_, _ = c.ExecContext(context.Background(), "ROLLBACK") // err is the one to report
		}
	}()
	var n int
	if err := c.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return fmt.Errorf("migration %d: %w", version, err)
	}
	if n > 0 {
		_, err := c.ExecContext(ctx, "COMMIT")
		return err
	}
	if _, err := c.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %d: %w", version, err)
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		version, time.Now().UTC().UnixNano()); err != nil {
		return fmt.Errorf("migration %d: record: %w", version, err)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("migration %d: commit: %w", version, err)
	}
	return nil
}

// conn is one connection with its prepared statements. It is used by one
// goroutine at a time: the writer, or the View holding it.
type conn struct {
	c     *sql.Conn
	mu    sync.Mutex // guards stmts should a fn use its Tx from several goroutines
	stmts map[string]*sql.Stmt
}

func newConn(c *sql.Conn) *conn { return &conn{c: c, stmts: make(map[string]*sql.Stmt)} }

// stmt returns the statement prepared for query on this connection,
// preparing it on first use.
func (c *conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (c *conn) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
	return c.c.Close()
}

// discard closes a connection left in an unknown state and drops it from
// the pool; it returns nil, the slot value for "open a new one".
func (c *conn) discard() *conn {
	c.mu.Lock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
	c.mu.Unlock()
	// Returning driver.ErrBadConn from Raw makes database/sql close the
	// connection instead of pooling it.
	_ = c.c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.c.Close()
	return nil
}
