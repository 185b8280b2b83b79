package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/testenv"
)

// TestUpgradeKeepsResetTokens builds a database at migration 5 holding
// tokens in the old format, opens it (migration 6), and checks that only
// the live token became legacy, that it still validates, and that the
// ended ones do not.
func TestUpgradeKeepsResetTokens(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`)
	for _, m := range migrations() {
		if m.version > 5 {
			break
		}
		exec(m.sql)
		exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
	}
	now := time.Now()
	exec(`INSERT INTO organizations (uuid, name, type, created_at) VALUES ('org-uuid', 'Crux Supplier', 'SUPPLIER', $1)`, now)
	exec(`INSERT INTO users (uuid, person_uuid, org_id, email, status, created_at)
		SELECT 'user-uuid', 'person-uuid', id, 'old@example.com', 'ACTIVE', $1 FROM organizations`, now)
	tokens := map[string]struct {
		expires time.Duration
		used    bool
	}{
		"OldFormatToken000001": {time.Hour, false},  // live
		"OldFormatToken000002": {time.Hour, true},   // used
		"OldFormatToken000003": {-time.Hour, false}, // expired
	}
	for tok, c := range tokens {
		var used *time.Time
		if c.used {
			used = &now
		}
		exec(`INSERT INTO reset_tokens (digest, user_id, created_at, expires_at, used_at)
			SELECT $1, id, $2, $3, $4 FROM users`, account.Digest(tok), now.Add(-2*time.Hour), now.Add(c.expires), used)
	}

	s := mustOpen(t, dsn, Options{})
	var rows, legacy int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE legacy) FROM reset_tokens`).Scan(&rows, &legacy); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || legacy != 1 {
		t.Errorf("after migration 6: %d rows, %d legacy; want 3, 1 (the live one)", rows, legacy)
	}
	svc := account.NewService(s, nil, nil, account.Config{Mode: account.Sandbox}, nil)
	for tok, c := range tokens {
		email, err := svc.ValidateReset(ctx, tok)
		if live := c.expires > 0 && !c.used; live && (err != nil || email != "old@example.com") {
			t.Errorf("ValidateReset(live old token) = %q, %v; want old@example.com", email, err)
		} else if !live && account.ErrorCode(err) != account.ENOTFOUND {
			t.Errorf("ValidateReset(%s): %v, want ENOTFOUND", tok, err)
		}
	}
}
