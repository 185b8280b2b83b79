package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/testenv"
)

// TestUpgradeKeepsResetTokens builds a database at migration 6 holding
// tokens of the scheme before migration 7: ones that named their row, and
// older ones marked legacy, live, used and expired, and the key of the
// names. It opens the database (migration 7 indexes every digest) and
// checks that the legacy column and the key are gone, that both kinds of
// live old token still validate and spend once, and that the ended ones do
// not.
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
		if m.version > 6 {
			break
		}
		exec(m.sql)
		exec(`INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
	}
	now := time.Now()
	exec(`INSERT INTO organizations (uuid, name, type, created_at) VALUES ('org-uuid', 'Crux Supplier', 'SUPPLIER', $1)`, now)
	exec(`INSERT INTO users (uuid, person_uuid, org_id, email, status, created_at)
		SELECT 'user-uuid', 'person-uuid', id, 'old@example.com', 'ACTIVE', $1 FROM organizations`, now)
	exec(`INSERT INTO secrets VALUES ('reset-token-ids', $1)`, make([]byte, 32))
	tokens := map[string]struct {
		expires time.Duration
		used    bool
		legacy  bool
	}{
		"OldFormatToken000001": {time.Hour, false, true},   // live, from before migration 6
		"RowNamedToken0000002": {time.Hour, false, false},  // live, named its row
		"RowNamedToken0000003": {time.Hour, true, false},   // used
		"RowNamedToken0000004": {-time.Hour, false, false}, // expired
	}
	for tok, c := range tokens {
		var used *time.Time
		if c.used {
			used = &now
		}
		exec(`INSERT INTO reset_tokens (digest, user_id, created_at, expires_at, used_at, legacy)
			SELECT $1, id, $2, $3, $4, $5 FROM users`, account.Digest(tok), now.Add(-2*time.Hour), now.Add(c.expires), used, c.legacy)
	}

	s := mustOpen(t, dsn, Options{})
	var rows, left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM reset_tokens`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(tokens) {
		t.Errorf("after migration 7: %d rows, want %d", rows, len(tokens))
	}
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM information_schema.columns
			WHERE table_name = 'reset_tokens' AND column_name = 'legacy')
		+ (SELECT count(*) FROM information_schema.tables WHERE table_name = 'secrets')`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("after migration 7: %d of the legacy column and the secrets table left, want none", left)
	}
	svc := account.NewService(s, nil, nil, account.Config{Mode: account.Sandbox}, nil)
	for tok, c := range tokens {
		email, err := svc.ValidateReset(ctx, tok)
		if live := c.expires > 0 && !c.used; live && (err != nil || email != "old@example.com") {
			t.Errorf("ValidateReset(live old token %s) = %q, %v; want old@example.com", tok, email, err)
		} else if !live && account.ErrorCode(err) != account.ENOTFOUND {
			t.Errorf("ValidateReset(%s): %v, want ENOTFOUND", tok, err)
		}
	}
	for i := range 2 {
		err := s.Update(ctx, func(tx account.Tx) error {
			_, err := tx.ConsumeResetToken(ctx, account.Digest("OldFormatToken000001"), time.Now())
			return err
		})
		if want := i == 0; (err == nil) != want {
			t.Errorf("spend %d of the old token: %v", i+1, err)
		}
	}
}
