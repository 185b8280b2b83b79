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
	"github.com/cruxd/cruxd/internal/storetest"
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

// TestLegacyResetTokens runs the conformance checks of tokens issued before
// migration 8, marked as the migration marks them.
func TestLegacyResetTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cruxd.db")
	s := mustOpenPath(t, path)
	db := rawDB(t, path)
	storetest.LegacyResetTokens(t, s, func(t *testing.T, id int64) {
		mustExec(t, db, `UPDATE reset_tokens SET legacy = 1 WHERE id = ?`, id)
	})
}

// TestUpgradeKeepsResetTokens builds a database at migration 7 holding
// tokens in the old format, opens it (migration 8 rebuilds reset_tokens),
// and checks that every row kept its state and only the live one became
// legacy, that the live old token still validates and spends, and that a
// new token names its row.
func TestUpgradeKeepsResetTokens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	db := rawDB(t, path)
	mustExec(t, db, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`)
	for v := 1; v <= 7; v++ {
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
	const (
		liveToken    = "OldFormatToken000001"
		usedToken    = "OldFormatToken000002"
		expiredToken = "OldFormatToken000003"
	)
	mustExec(t, db, `INSERT INTO reset_tokens (id, digest, user_id, created_at, expires_at, used_at)
		VALUES (6, ?, 1, ?, ?, NULL), (7, ?, 1, ?, ?, NULL), (8, ?, 1, ?, ?, ?)`,
		account.Digest(expiredToken), ns(-3*time.Hour), ns(-time.Hour),
		account.Digest(liveToken), ns(-time.Minute), ns(time.Hour),
		account.Digest(usedToken), ns(-time.Minute), ns(time.Hour), ns(-time.Second))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := mustOpenPath(t, path)
	db = rawDB(t, path)
	var rows, legacy, used int
	if err := db.QueryRow(`SELECT count(*), sum(legacy), count(used_at) FROM reset_tokens`).Scan(&rows, &legacy, &used); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || legacy != 1 || used != 1 {
		t.Errorf("after migration 8: %d rows, %d legacy, %d used; want 3, 1 (the live one), 1", rows, legacy, used)
	}

	svc := account.NewService(s, nil, nil, account.Config{Mode: account.Sandbox}, nil)
	if email, err := svc.ValidateReset(ctx, liveToken); err != nil || email != "old@example.com" {
		t.Errorf("ValidateReset(live old token) = %q, %v; want old@example.com", email, err)
	}
	for _, tok := range []string{usedToken, expiredToken} {
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
	var newID, newLegacy int64
	if err := db.QueryRow(`SELECT id, legacy FROM reset_tokens WHERE digest = ?`, account.Digest(token)).Scan(&newID, &newLegacy); err != nil {
		t.Fatal(err)
	}
	if newID != 9 || newLegacy != 0 {
		t.Errorf("new token stored as row %d, legacy %d; want row 9, not legacy", newID, newLegacy)
	}
	// The old token spends like a new one: one transaction, once.
	err = s.Update(ctx, func(tx account.Tx) error {
		rt, err := tx.LiveLegacyResetToken(ctx, account.Digest(liveToken), time.Now())
		if err != nil {
			return err
		}
		_, err = tx.ConsumeResetToken(ctx, rt.ID, rt.Digest, time.Now())
		return err
	})
	if err != nil {
		t.Fatalf("spend the old token: %v", err)
	}
	if _, err := svc.ValidateReset(ctx, liveToken); account.ErrorCode(err) != account.ENOTFOUND {
		t.Errorf("ValidateReset(spent old token): %v, want ENOTFOUND", err)
	}
}
