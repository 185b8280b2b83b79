package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// rawDB opens the database file with database/sql alone, as another
// process would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%.60s: %v", q, err)
	}
}

// TestUpgradeKeepsResetTokens builds a database at migration 8 holding
// tokens of the scheme before migration 9: ones that named their row, and
// older ones marked legacy, live, used and expired, and the key of the
// names. It opens the database (migration 9 indexes every digest) and
// checks that every row kept its state, that the legacy column and the
// key are gone, that both kinds of live old token still validate and
// spend once, and that the ended ones do not.
func TestUpgradeKeepsResetTokens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	db := rawDB(t, path)
	mustExec(t, db, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`)
	for v := 1; v <= 8; v++ {
		names, err := filepath.Glob(fmt.Sprintf("migrations/%04d_*.up.sql", v))
		if err != nil || len(names) != 1 {
			t.Fatalf("migration %d: %v %v", v, names, err)
		}
		body, err := os.ReadFile(names[0])
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, string(body))
		mustExec(t, db, `INSERT INTO schema_migrations VALUES (?, 0)`, v)
	}
	now := time.Now()
	ns := func(d time.Duration) int64 { return now.Add(d).UnixNano() }
	mustExec(t, db, `INSERT INTO organizations VALUES (1, 'org-uuid', 'Crux Supplier', 'SUPPLIER', 0)`)
	mustExec(t, db, `INSERT INTO users (id, uuid, person_uuid, org_id, email, status, created_at)
		VALUES (1, 'user-uuid', 'person-uuid', 1, 'old@example.com', 'ACTIVE', 0)`)
	mustExec(t, db, `INSERT INTO secrets VALUES ('reset-token-ids', ?)`, make([]byte, 32))
	const (
		legacyLive   = "OldFormatToken000001"
		namedLive    = "RowNamedToken0000002"
		namedUsed    = "RowNamedToken0000003"
		namedExpired = "RowNamedToken0000004"
	)
	mustExec(t, db, `INSERT INTO reset_tokens (id, digest, user_id, created_at, expires_at, used_at, legacy)
		VALUES (6, ?, 1, ?, ?, NULL, 1), (7, ?, 1, ?, ?, NULL, 0), (8, ?, 1, ?, ?, ?, 0), (9, ?, 1, ?, ?, NULL, 0)`,
		account.Digest(legacyLive), ns(-time.Hour), ns(time.Hour),
		account.Digest(namedLive), ns(-time.Minute), ns(time.Hour),
		account.Digest(namedUsed), ns(-time.Minute), ns(time.Hour), ns(-time.Second),
		account.Digest(namedExpired), ns(-3*time.Hour), ns(-time.Hour))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := mustOpenPath(t, path)
	db = rawDB(t, path)
	var rows, used int
	if err := db.QueryRow(`SELECT count(*), count(used_at) FROM reset_tokens`).Scan(&rows, &used); err != nil {
		t.Fatal(err)
	}
	if rows != 4 || used != 1 {
		t.Errorf("after migration 9: %d rows, %d used; want 4, 1", rows, used)
	}
	var left int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name IN ('secrets', 'reset_tokens_legacy_digest')
		OR name = 'reset_tokens' AND sql LIKE '%legacy%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("after migration 9: %d of the secrets table, the legacy index and column left, want none", left)
	}

	svc := account.NewService(s, nil, nil, account.Config{Mode: account.Sandbox}, nil)
	for _, tok := range []string{legacyLive, namedLive} {
		if email, err := svc.ValidateReset(ctx, tok); err != nil || email != "old@example.com" {
			t.Errorf("ValidateReset(live old token %s) = %q, %v; want old@example.com", tok, email, err)
		}
	}
	for _, tok := range []string{namedUsed, namedExpired} {
		if _, err := svc.ValidateReset(ctx, tok); account.ErrorCode(err) != account.ENOTFOUND {
			t.Errorf("ValidateReset(%s): %v, want ENOTFOUND", tok, err)
		}
	}
	token, err := svc.RequestReset(ctx, "old@example.com", account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if email, err := svc.ValidateReset(ctx, token); err != nil || email != "old@example.com" {
		t.Errorf("ValidateReset(new token) = %q, %v", email, err)
	}
	// An old token spends like a new one: one conditional update, once.
	for i := range 2 {
		err := s.Update(ctx, func(tx account.Tx) error {
			_, err := tx.ConsumeResetToken(ctx, account.Digest(legacyLive), time.Now())
			return err
		})
		if want := i == 0; (err == nil) != want {
			t.Errorf("spend %d of the old token: %v", i+1, err)
		}
	}
	if _, err := svc.ValidateReset(ctx, legacyLive); account.ErrorCode(err) != account.ENOTFOUND {
		t.Errorf("ValidateReset(spent old token): %v, want ENOTFOUND", err)
	}
}

// TestOpenNoMigrate: `--no-migrate` on SQLite applies nothing and fails on a
// database nobody migrated, and opens one whose migrations were applied.
func TestOpenNoMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	noMigrate := sqlite.Options{NoMigrate: true}
	if s, err := sqlite.OpenWith(ctx, path, noMigrate); err == nil {
		s.Close()
		t.Fatal("NoMigrate on a new file succeeded")
	}
	var n int
	if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("NoMigrate wrote a schema: %d objects, %v", n, err)
	}
	mustOpenPath(t, path).Close() // migrates
	s, err := sqlite.OpenWith(ctx, path, noMigrate)
	if err != nil {
		t.Fatalf("NoMigrate after the migrations: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
