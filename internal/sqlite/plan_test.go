package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// TestQueryPlans checks that the statements whose cost would otherwise grow
// with the database search an index for exactly the rows they need.
func TestQueryPlans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cruxd.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// No purge statement scans its table: each batch holds the writer, and
	// a scan would make the last batch of a purge read every row that
	// stays.
	for kind, q := range purgeSQL {
		for _, step := range queryPlan(t, db, q, 0, 10) {
			if strings.HasPrefix(step, "SCAN ") {
				t.Errorf("purge of %s scans a table: %s", kind, step)
			}
		}
	}

	// Reset Password's revoke seeks past the user's expired tokens instead
	// of reading each of them.
	plan := strings.Join(queryPlan(t, db, sqlRevokeResetTokens, 1, time.Now().UnixNano(), 3), "\n")
	if !strings.Contains(plan, "USING COVERING INDEX reset_tokens_unspent (user_id=? AND expires_at>?)") {
		t.Errorf("revoke of a user's old reset tokens:\n%s", plan)
	}

	// A reset token is found through the unique digest index; neither
	// lookup nor spend reads more than its row.
	now := time.Now().UnixNano()
	for q, want := range map[string]string{
		sqlLiveResetToken:         "SEARCH reset_tokens USING INDEX reset_tokens_digest (digest=?)",
		sqlConsumeResetToken:      "SEARCH reset_tokens USING INDEX reset_tokens_digest (digest=?)",
		sqlLiveResetTokenByCancel: "SEARCH reset_tokens USING INDEX reset_tokens_cancel_digest (cancel_digest=?)",
		sqlCountLiveResetTokens:   "SEARCH reset_tokens USING COVERING INDEX reset_tokens_unspent (user_id=? AND expires_at>?)",
		sqlInvitationByDigest:     "SEARCH invitations USING INDEX invitations_digest (digest=?)",
		sqlConsumeInvitation:      "SEARCH invitations USING INDEX invitations_digest (digest=?)",
		sqlRenewInvitation:        "SEARCH invitations USING INDEX invitations_digest (digest=?)",
		// The monitoring count reads the index that holds its columns.
		sqlCountExpiredResetTokens: "CO-ROUTINE (subquery-1)\nSCAN reset_tokens USING COVERING INDEX reset_tokens_unspent\nSCAN (subquery-1)",
	} {
		if plan := strings.Join(queryPlan(t, db, q, 1, now, []byte("digest")), "\n"); plan != want {
			t.Errorf("%s:\n%s\nwant %s", q, plan, want)
		}
	}

	// An invitation's revoke of the older ones reads only the user's live
	// invitations.
	plan = strings.Join(queryPlan(t, db, sqlRevokeInvitations, 1, now, 3), "\n")
	if !strings.Contains(plan, "SEARCH invitations USING COVERING INDEX invitations_unspent (user_id=? AND expires_at>?)") ||
		strings.Contains(plan, "SCAN ") {
		t.Errorf("revoke of a user's older invitations:\n%s", plan)
	}

	// A login's revoke of the oldest tokens reads only the user's live ones.
	for _, step := range queryPlan(t, db, sqlRevokeAuthTokens, now, 1, 9) {
		if strings.HasPrefix(step, "SEARCH auth_tokens") && !strings.Contains(step, "auth_tokens_user_live") ||
			strings.HasPrefix(step, "SCAN ") {
			t.Errorf("revoke of the oldest auth tokens: %s", step)
		}
	}

	// A login's check of its client reads only that user's tokens from it.
	plan = strings.Join(queryPlan(t, db, sqlLoggedInFrom, 1, []byte("source"), now), "\n")
	if !strings.Contains(plan, "USING COVERING INDEX auth_tokens_user_source (user_id=? AND source=? AND created_at>?)") {
		t.Errorf("login source check:\n%s", plan)
	}
}

// queryPlan returns the steps of the plan of q with args.
func queryPlan(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestStatsCountsUpToLimit: the count of expired reset tokens stops at the
// limit (Stats passes account.StatsCountLimit).
func TestStatsCountsUpToLimit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "cruxd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	err = s.Update(ctx, func(atx account.Tx) error {
		o := &account.Organization{UUID: "o", Name: "Org", Type: account.Supplier, CreatedAt: t0}
		if err := atx.CreateOrganization(ctx, o); err != nil {
			return err
		}
		u := &account.User{UUID: "u", PersonUUID: "p", OrgID: o.ID, Email: "a@example.com", Status: account.StatusActive, CreatedAt: t0}
		if err := atx.CreateUser(ctx, u); err != nil {
			return err
		}
		for i := range 3 {
			rt := &account.ResetToken{Digest: account.Digest(fmt.Sprint(i)), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := atx.CreateResetToken(ctx, rt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(atx account.Tx) error {
		st, err := atx.(*tx).stats(t0.Add(2*time.Hour), 2)
		if err == nil && st.ResetTokensExpired != 2 {
			t.Errorf("stats with limit 2 counted %d of 3 expired tokens", st.ResetTokensExpired)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
