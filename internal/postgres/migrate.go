package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.up.sql
var migrationFS embed.FS

// migration is one embedded NNNN_name.up.sql file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A misnamed
// file is a build mistake, so it panics.
func migrations() []migration {
	names, err := fs.Glob(migrationFS, "migrations/*.up.sql")
	if err != nil {
		panic(err)
	}
	var ms []migration
	for _, p := range names {
		base := strings.TrimSuffix(path.Base(p), ".up.sql")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			panic(fmt.Sprintf("postgres: migration %s has no version number", p))
		}
		b, err := migrationFS.ReadFile(p)
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			panic(fmt.Sprintf("postgres: two migrations numbered %d", ms[i].version))
		}
	}
	return ms
}

// latestVersion is the version of the newest embedded migration.
func latestVersion() int {
	ms := migrations()
	return ms[len(ms)-1].version
}

// Advisory lock keys, in a range of their own ("crux" in ASCII, then a
// number), so they do not collide with locks other software on the same
// database might take.
const (
	lockMigrate    int64 = 0x63727578_0001
	lockSetup      int64 = 0x63727578_0002
	lockCountUsers int64 = 0x63727578_0003 // transaction-level; see tx.CountUsers
)

// Migrate applies the embedded migrations that the database lacks, each in
// its own transaction recorded in schema_migrations. It holds a session-level
// advisory lock meanwhile, so processes starting at once on an empty database
// apply each migration exactly once: the others wait, then find nothing to
// do. EUNAVAILABLE when the server cannot be reached.
func (s *Store) Migrate(ctx context.Context) error {
	err := s.withAdvisoryLock(ctx, lockMigrate, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, `
			CREATE TABLE IF NOT EXISTS schema_migrations (
				version    integer PRIMARY KEY,
				name       text NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied := make(map[int]bool)
		rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			applied[v] = true
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, m := range migrations() {
			if applied[m.version] {
				continue
			}
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, m.sql); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
				return err
			})
			if err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres migrate: %w", classify(err))
	}
	return nil
}

// WithLock runs fn while holding the database-wide setup lock, a
// session-level advisory lock distinct from the migration lock, so that of
// processes starting at once only one runs fn at a time. Seeding the sandbox
// needs no such lock (see tx.CountUsers) but is safe under it. fn may use
// the Store: the lock is held on a connection of its own, outside the pool.
// It returns fn's error, or EUNAVAILABLE when the lock cannot be taken
// because the server cannot be reached.
func (s *Store) WithLock(ctx context.Context, fn func() error) error {
	var fnErr error
	err := s.withAdvisoryLock(ctx, lockSetup, func(*pgx.Conn) error {
		fnErr = fn()
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres setup lock: %w", classify(err))
	}
	return fnErr
}

// withAdvisoryLock runs fn on a dedicated connection holding the advisory
// lock key. The connection is not taken from the pool, so fn may use the
// pool freely even when it has a single connection, and it has no statement
// timeout: waiting for the lock, or a long migration, is expected. Closing
// the connection releases the lock even if the unlock was not sent.
func (s *Store) withAdvisoryLock(ctx context.Context, key int64, fn func(*pgx.Conn) error) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["statement_timeout"] = "0"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("take advisory lock: %w", err)
	}
	err = fn(conn)
	// An unlock that fails needs no report: closing the session releases.
	_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
	return err
}
