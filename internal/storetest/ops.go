package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

func testAuditByEmail(t *testing.T, s account.Store) {
	ctx := context.Background()
	a, b := account.Digest("a@example.com"), account.Digest("b@example.com")
	events := []*account.AuditEvent{
		{At: at(minute), Action: account.AuditResetRequested, EmailDigest: a, UserID: 7, Detail: "d"},
		{At: at(minute), Action: account.AuditResetRequested, EmailDigest: b},
		{At: at(2 * minute), Action: account.AuditLoginFailed, EmailDigest: a, IP: "192.0.2.1", UserAgent: "ua"},
		{At: at(3 * minute), Action: account.AuditAdmin, Detail: "no address"},
	}
	update(t, s, func(tx account.Tx) error {
		for _, e := range events {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx account.Tx) error {
		got, err := tx.AuditByEmail(ctx, a, 10)
		if err != nil {
			return err
		}
		if len(got) != 2 || got[0].Action != account.AuditResetRequested || got[1].Action != account.AuditLoginFailed {
			t.Fatalf("AuditByEmail(a) = %d events %v, want reset.requested then login.failed", len(got), got)
		}
		if g := got[0]; !g.At.Equal(at(minute)) || g.UserID != 7 || g.Detail != "d" || !bytes.Equal(g.EmailDigest, a) {
			t.Errorf("first event %+v", *g)
		}
		if g := got[1]; g.IP != "192.0.2.1" || g.UserAgent != "ua" || g.UserID != 0 {
			t.Errorf("second event %+v", *g)
		}
		if got, err := tx.AuditByEmail(ctx, a, 1); err != nil || len(got) != 1 {
			t.Errorf("AuditByEmail limit 1 = %d events, %v", len(got), err)
		}
		if got, err := tx.AuditByEmail(ctx, account.Digest("c@example.com"), 10); err != nil || len(got) != 0 {
			t.Errorf("AuditByEmail(unknown) = %d events, %v", len(got), err)
		}
		return nil
	})
}

// purgeAll runs Purge of kind until it deletes nothing, limit rows a call,
// and returns the total.
func purgeAll(t *testing.T, s account.Store, kind account.PurgeKind, limit int) int {
	t.Helper()
	total := 0
	for {
		var n int
		update(t, s, func(tx account.Tx) (err error) {
			n, err = tx.Purge(context.Background(), kind, t0, limit)
			return err
		})
		if n > limit {
			t.Fatalf("Purge(%s, limit %d) deleted %d", kind, limit, n)
		}
		total += n
		if n == 0 {
			return total
		}
	}
}

func testPurge(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	f := newFixture(t, s)
	u2 := f.user(f.org("Project Thanos", account.Retailer), "mrbailey@projectthanos.com")
	// Reset tokens ended before t0 (expired, used, revoked) go; the live
	// one, and one used after t0, stay.
	resetToken(t, s, u, "expired", at(-3*hour), hour)
	used := resetToken(t, s, u, "used", at(-2*hour), 10*hour)
	liveTok := resetToken(t, s, u, "live", at(-minute), 2*hour)
	usedLater := resetToken(t, s, u, "used later", at(-minute), 2*hour)
	resetToken(t, s, u2, "revoked", at(-3*hour), 10*hour)
	update(t, s, func(tx account.Tx) error {
		if _, err := tx.ConsumeResetToken(ctx, used.Digest, at(-hour)); err != nil {
			return err
		}
		if _, err := tx.ConsumeResetToken(ctx, usedLater.Digest, at(minute)); err != nil {
			return err
		}
		_, err := tx.RevokeResetTokens(ctx, u2.ID, 0, at(-hour))
		return err
	})
	if n := purgeAll(t, s, account.PurgeResetTokens, 1); n != 3 {
		t.Errorf("purged %d reset tokens, want 3 (expired, used, revoked)", n)
	}
	if !live(t, s, liveTok, t0) {
		t.Error("the live reset token was purged")
	}
	update(t, s, func(tx account.Tx) error {
		// "used later" is still there: creating it again conflicts.
		err := tx.CreateResetToken(ctx, &account.ResetToken{Digest: usedLater.Digest, UserID: u.ID, CreatedAt: t0, ExpiresAt: at(hour)})
		wantCode(t, "re-create the token used after t0", err, account.ECONFLICT)
		return nil
	})

	// Auth tokens: revoked before t0 go, live stay.
	update(t, s, func(tx account.Tx) error {
		if err := tx.CreateAuthToken(ctx, &account.AuthToken{Digest: account.Digest("auth old"), UserID: u.ID, CreatedAt: at(-3 * hour)}); err != nil {
			return err
		}
		return tx.RevokeAuthTokens(ctx, u.ID, 0, at(-hour))
	})
	update(t, s, func(tx account.Tx) error {
		return tx.CreateAuthToken(ctx, &account.AuthToken{Digest: account.Digest("auth live"), UserID: u.ID, CreatedAt: at(-minute)})
	})
	if n := purgeAll(t, s, account.PurgeAuthTokens, 1); n != 1 {
		t.Errorf("purged %d auth tokens, want 1", n)
	}
	view(t, s, func(tx account.Tx) error {
		if _, err := tx.UserByAuthToken(ctx, account.Digest("auth live"), time.Time{}); err != nil {
			t.Errorf("live auth token after purge: %v", err)
		}
		return nil
	})
	// Expired auth tokens: never revoked and issued before t0 go ("auth
	// live", issued a minute before), issued later stay.
	update(t, s, func(tx account.Tx) error {
		return tx.CreateAuthToken(ctx, &account.AuthToken{Digest: account.Digest("auth later"), UserID: u.ID, CreatedAt: at(minute)})
	})
	if n := purgeAll(t, s, account.PurgeExpiredAuthTokens, 1); n != 1 {
		t.Errorf("purged %d expired auth tokens, want 1", n)
	}
	view(t, s, func(tx account.Tx) error {
		_, err := tx.UserByAuthToken(ctx, account.Digest("auth live"), time.Time{})
		wantCode(t, "auth token issued before t0 after the purge", err, account.ENOTFOUND)
		if _, err := tx.UserByAuthToken(ctx, account.Digest("auth later"), time.Time{}); err != nil {
			t.Errorf("auth token issued after t0, after the purge: %v", err)
		}
		return nil
	})

	// Outbox: finished before t0 go with their attempts; pending and
	// finished later stay.
	done := enqueue(t, s, "a@example.com", at(-3*hour))
	later := enqueue(t, s, "b@example.com", at(-3*hour))
	enqueue(t, s, "c@example.com", at(-3*hour)) // pending
	record(t, s, &account.MailAttempt{MessageID: done.ID, At: at(-2 * hour), Outcome: account.MailSent})
	record(t, s, &account.MailAttempt{MessageID: later.ID, At: at(minute), Outcome: account.MailSent})
	if n := purgeAll(t, s, account.PurgeOutbox, 1); n != 1 {
		t.Errorf("purged %d outbox messages, want 1", n)
	}
	wantAttempts(t, s, done.ID, nil)
	wantAttempts(t, s, later.ID, []account.MailAttempt{{MessageID: later.ID, At: at(minute), Outcome: account.MailSent}})
	view(t, s, func(tx account.Tx) error {
		st, err := tx.Stats(ctx, t0)
		if err != nil {
			return err
		}
		if st.MailPending != 1 || !st.OldestPending.Equal(at(-3*hour)) {
			t.Errorf("Stats after outbox purge: %+v, want 1 pending since %v", st, at(-3*hour))
		}
		return nil
	})

	// Audit and counters.
	update(t, s, func(tx account.Tx) error {
		for _, d := range []time.Duration{-2 * hour, -hour, hour} {
			if err := tx.AppendAudit(ctx, &account.AuditEvent{At: at(d), Action: account.AuditAdmin}); err != nil {
				return err
			}
			// A key of its own per window: a store may drop a key's older
			// windows when it reserves.
			if _, err := tx.Reserve(ctx, "k"+d.String(), at(d), 10); err != nil {
				return err
			}
		}
		return nil
	})
	if n := purgeAll(t, s, account.PurgeAudit, 1); n != 2 {
		t.Errorf("purged %d audit events, want 2", n)
	}
	if n := purgeAll(t, s, account.PurgeCounters, 1); n != 2 {
		t.Errorf("purged %d counter windows, want 2", n)
	}
	if n := counterValue(t, s, "k"+hour.String(), at(hour)); n != 1 {
		t.Errorf("counter window after t0: %d, want 1", n)
	}
	update(t, s, func(tx account.Tx) error {
		_, err := tx.Purge(ctx, account.PurgeKind("users"), t0, 10)
		wantCode(t, "Purge(unknown kind)", err, account.EINVALID)
		return nil
	})
}

func testStats(t *testing.T, s account.Store) {
	ctx := context.Background()
	view(t, s, func(tx account.Tx) error {
		st, err := tx.Stats(ctx, t0)
		if err != nil {
			return err
		}
		if st != (account.Stats{}) {
			t.Errorf("Stats of an empty store = %+v", st)
		}
		return nil
	})
	u := oneUser(t, s)
	resetToken(t, s, u, "expired", at(-3*hour), hour)
	resetToken(t, s, u, "expired too", at(-2*hour), hour)
	resetToken(t, s, u, "live", at(-minute), hour)
	enqueue(t, s, "a@example.com", at(-10*minute))
	enqueue(t, s, "b@example.com", at(-5*minute))
	view(t, s, func(tx account.Tx) error {
		st, err := tx.Stats(ctx, t0)
		if err != nil {
			return err
		}
		if st.MailPending != 2 || !st.OldestPending.Equal(at(-10*minute)) || st.ResetTokensExpired != 2 {
			t.Errorf("Stats = %+v, want 2 pending since %v and 2 expired tokens", st, at(-10*minute))
		}
		return nil
	})
}
