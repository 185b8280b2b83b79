package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/postgres"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// benchPassword is every loaded user's password; it is hashed once.
const benchPassword = "cruxbench password 42"

// usersPerOrg is how many loaded users share an organization.
const usersPerOrg = 1000

// benchDomain is the domain of every loaded user's address.
const benchDomain = "bench.cruxd.test"

func userEmail(i int) string { return fmt.Sprintf("user%d@%s", i, benchDomain) }

// database is where a run's cruxd keeps its data.
type database struct {
	dsn      string // --db of cruxd: a file path or a postgres:// URL
	postgres bool
	drop     func() error // removes a temporary PostgreSQL database
}

func (d *database) open(ctx context.Context) (account.Store, error) {
	if d.postgres {
		return postgres.Open(ctx, d.dsn, postgres.Options{})
	}
	return sqlite.Open(ctx, d.dsn)
}

// createPostgresDatabase creates an empty database on the server of admin
// and returns its DSN.
func createPostgresDatabase(ctx context.Context, admin string) (*database, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(admin), err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("cruxbench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	return &database{dsn: u.String(), postgres: true, drop: func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}}, nil
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	return "(DSN)"
}

// loadUsers creates n active users (and their organizations) through the
// store, batch per Update, all with one precomputed hash of benchPassword.
// It returns the users' ids by index.
func loadUsers(ctx context.Context, st account.Store, n, batch int) ([]int64, error) {
	h, err := password.NewHasher(password.DefaultParams)
	if err != nil {
		return nil, err
	}
	hash, err := h.Hash(benchPassword)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	orgs := make([]*account.Organization, (n+usersPerOrg-1)/usersPerOrg)
	for i := range orgs {
		typ := account.Supplier
		if i%2 == 1 {
			typ = account.Retailer
		}
		orgs[i] = &account.Organization{UUID: newUUID(), Name: fmt.Sprintf("Bench Org %d", i), Type: typ, CreatedAt: now}
	}
	err = st.Update(ctx, func(tx account.Tx) error {
		for _, o := range orgs {
			if err := tx.CreateOrganization(ctx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create organizations: %w", err)
	}
	ids := make([]int64, n)
	perms := []string{account.PermViewOrgUsers}
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		err := st.Update(ctx, func(tx account.Tx) error {
			for i := lo; i < hi; i++ {
				u := &account.User{
					UUID: newUUID(), PersonUUID: newUUID(), OrgID: orgs[i/usersPerOrg].ID,
					Email: userEmail(i), FirstName: "Bench", LastName: fmt.Sprint(i),
					Status: account.StatusActive, PasswordHash: hash, Permissions: perms, CreatedAt: now,
				}
				if err := tx.CreateUser(ctx, u); err != nil {
					return err
				}
				ids[i] = u.ID
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("create users: %w", err)
		}
	}
	return ids, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// expiredToken is one row of the growth load: a reset token of a random
// user that expired between 2 and 26 hours ago, never used.
type expiredToken struct {
	digest    []byte
	userID    int64
	createdAt time.Time
	expiresAt time.Time
}

func expiredTokens(r *mrand.Rand, ids []int64, n int, now time.Time) []expiredToken {
	ts := make([]expiredToken, n)
	for i := range ts {
		d := make([]byte, 32)
		for j := 0; j < 32; j += 8 {
			v := r.Uint64()
			for k := range 8 {
				d[j+k] = byte(v >> (8 * k))
			}
		}
		created := now.Add(-4*time.Hour - time.Duration(r.Int64N(int64(22*time.Hour))))
		ts[i] = expiredToken{d, ids[r.IntN(len(ids))], created, created.Add(account.DefaultResetTTL)}
	}
	return ts
}

// loadExpiredTokens inserts n expired reset-token rows in transactions of
// batch rows. The rows are junk no request ever names, so they bypass the
// store: a prepared multi-row INSERT on SQLite, COPY on PostgreSQL. They
// take ids in order and have random digests, as tokens cruxd issued would.
func loadExpiredTokens(ctx context.Context, db *database, ids []int64, n, batch int, progress func(done int)) error {
	if n <= 0 {
		return nil
	}
	r := mrand.New(mrand.NewChaCha8([32]byte{7}))
	now := time.Now().UTC()
	if db.postgres {
		conn, err := pgx.Connect(ctx, db.dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		for done := 0; done < n; {
			ts := expiredTokens(r, ids, min(batch, n-done), now)
			rows := make([][]any, len(ts))
			for i, t := range ts {
				rows[i] = []any{t.digest, t.userID, t.createdAt, t.expiresAt}
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"reset_tokens"},
				[]string{"digest", "user_id", "created_at", "expires_at"}, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("copy expired tokens: %w", err)
			}
			done += len(ts)
			progress(done)
		}
		return nil
	}

	sdb, err := openDirect(db.dsn)
	if err != nil {
		return err
	}
	defer sdb.Close()
	const perStmt = 500
	stmtSQL := "INSERT INTO reset_tokens (digest, user_id, created_at, expires_at) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", perStmt), ",")
	for done := 0; done < n; {
		ts := expiredTokens(r, ids, min(batch, n-done), now)
		tx, err := sdb.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, stmtSQL)
		if err != nil {
			tx.Rollback()
			return err
		}
		args := make([]any, 0, 4*perStmt)
		for lo := 0; lo < len(ts); lo += perStmt {
			chunk := ts[lo:min(lo+perStmt, len(ts))]
			args = args[:0]
			for _, t := range chunk {
				args = append(args, t.digest, t.userID, t.createdAt.UnixNano(), t.expiresAt.UnixNano())
			}
			if len(chunk) < perStmt {
				q := "INSERT INTO reset_tokens (digest, user_id, created_at, expires_at) VALUES " +
					strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", len(chunk)), ",")
				_, err = tx.ExecContext(ctx, q, args...)
			} else {
				_, err = st.ExecContext(ctx, args...)
			}
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("insert expired tokens: %w", err)
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
		done += len(ts)
		progress(done)
	}
	_, err = sdb.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// openDirect opens the SQLite file at path beside the store, for the
// benchmark's own bulk work on its data (loading junk tokens, removing what
// earlier runs left). It trades durability for speed: a crash only loses the
// benchmark's database.
func openDirect(path string) (*sql.DB, error) {
	sdb, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	sdb.SetMaxOpenConns(1)
	return sdb, nil
}

// loaded is what a reused SQLite file holds once prepared for a run.
type loaded struct {
	users   int // users an earlier run loaded
	expired int // reset tokens expired unused
	deleted int // reset tokens of earlier runs, deleted
}

// prepareReuse readies the SQLite file at path, loaded by an earlier run,
// for this one. It deletes every reset token that ended after the users were
// loaded: those earlier runs issued (live, used, revoked, or expired
// since). The loaded tokens all expired before the load, so every run
// starts from the loaded state; left in place, the others change what is
// measured (after a dozen runs within the tokens' 2-hour lifetime every
// user Reset Password picks has three live tokens, and each reset also
// revokes one). Then it counts what the file holds, so that the run is
// measured and described by that, not by this run's -users and
// -expired-tokens.
func prepareReuse(ctx context.Context, path string, batch int, now time.Time) (loaded, error) {
	var l loaded
	sdb, err := openDirect(path)
	if err != nil {
		return l, err
	}
	defer sdb.Close()
	var loadedAt sql.NullInt64
	err = sdb.QueryRowContext(ctx, `SELECT count(*), max(created_at) FROM users WHERE email LIKE ?`, "%@"+benchDomain).Scan(&l.users, &loadedAt)
	if err != nil {
		return l, fmt.Errorf("count loaded users: %w", err)
	}
	if !loadedAt.Valid {
		return l, fmt.Errorf("%s holds no users loaded by cruxbench (…@%s): remove it or name another -sqlite file", path, benchDomain)
	}
	// The expression of the index reset_tokens_ended (internal/sqlite
	// sqlResetTokenEnded), so that each batch is a range search.
	const del = `DELETE FROM reset_tokens WHERE id IN (SELECT id FROM reset_tokens
		WHERE min(expires_at, ifnull(used_at, expires_at), ifnull(revoked_at, expires_at)) >= ? LIMIT ?)`
	for {
		res, err := sdb.ExecContext(ctx, del, loadedAt.Int64, batch)
		if err != nil {
			return l, fmt.Errorf("delete the tokens of earlier runs: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return l, err
		}
		l.deleted += int(n)
		if int(n) < batch {
			break
		}
	}
	if _, err := sdb.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return l, err
	}
	// Expired unused tokens are the entries of reset_tokens_unspent past
	// their expiry: a search of the covering index, no table rows read.
	err = sdb.QueryRowContext(ctx, `SELECT count(*) FROM reset_tokens INDEXED BY reset_tokens_unspent
		WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at <= ?`, now.UnixNano()).Scan(&l.expired)
	if err != nil {
		return l, fmt.Errorf("count expired reset tokens: %w", err)
	}
	return l, nil
}
