package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// RunOneTrip runs the tests of account.OneTripStore: its methods leave the
// store as the Tx calls they stand for do. open must return a fresh store
// that implements it.
func RunOneTrip(t *testing.T, open func(t *testing.T) account.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, account.Store, account.OneTripStore)
	}{
		{"IssueResetToken/Stores", testIssueStores},
		{"IssueResetToken/KeepsNewest", testIssueKeepsNewest},
		{"IssueResetToken/NoSuchAccount", testIssueNoAccount},
		{"IssueResetToken/ConflictWritesNothing", testIssueConflict},
		{"IssueResetToken/Concurrent", testIssueConcurrent},
		{"LiveResetTokenUser", testLiveResetTokenUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			o, ok := s.(account.OneTripStore)
			if !ok {
				t.Fatalf("%T is no account.OneTripStore", s)
			}
			tc.fn(t, s, o)
		})
	}
}

// newIssue is a ResetIssue for email of the token named name, created at
// at(d), keeping keep live tokens, with a mail when mail is set.
func newIssue(email, name string, d time.Duration, keep int, mail bool) *account.ResetIssue {
	now := at(d)
	r := &account.ResetIssue{
		Email: email, Status: account.StatusActive, Keep: keep,
		Token: &account.ResetToken{Digest: account.Digest(name), CreatedAt: now, ExpiresAt: now.Add(hour)},
		Audit: &account.AuditEvent{At: now, Action: account.AuditResetRequested, EmailDigest: account.Digest(email),
			IP: "192.0.2.7", UserAgent: "curl/8.5"},
	}
	if mail {
		r.Mail = &account.OutboxMessage{Kind: account.MailReset, To: email, CreatedAt: now,
			Meta: account.Meta{IP: "192.0.2.7", UserAgent: "curl/8.5"}}
	}
	return r
}

// auditOf returns the audit events of email.
func auditOf(t *testing.T, s account.Store, email string) []*account.AuditEvent {
	t.Helper()
	var evs []*account.AuditEvent
	view(t, s, func(tx account.Tx) (err error) {
		evs, err = tx.AuditByEmail(context.Background(), account.Digest(email), 100)
		return err
	})
	return evs
}

func testIssueStores(t *testing.T, s account.Store, o account.OneTripStore) {
	u := oneUser(t, s)
	r := newIssue(u.Email, "tok", 0, 3, true)
	if err := o.IssueResetToken(context.Background(), r); err != nil {
		t.Fatalf("IssueResetToken: %v", err)
	}
	if r.Token.ID == 0 || r.Token.UserID != u.ID || r.Mail.ID == 0 || r.Mail.UserID != u.ID || r.Audit.ID == 0 || r.Audit.UserID != u.ID {
		t.Errorf("IssueResetToken set token %+v, mail %+v, audit %+v; want IDs and user %d", *r.Token, *r.Mail, *r.Audit, u.ID)
	}
	var got *account.ResetToken
	view(t, s, func(tx account.Tx) (err error) {
		got, err = tx.LiveResetToken(context.Background(), r.Token.Digest, at(minute))
		return err
	})
	if got.ID != r.Token.ID || got.UserID != u.ID || !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(at(hour)) {
		t.Errorf("stored token %+v, want %+v", *got, *r.Token)
	}
	msgs := claim(t, s, at(minute), minute, 10)
	if len(msgs) != 1 || msgs[0].ID != r.Mail.ID || msgs[0].UserID != u.ID || msgs[0].To != u.Email || msgs[0].Kind != account.MailReset {
		t.Errorf("claimed %+v, want the reset mail %d to %s for user %d", msgs, r.Mail.ID, u.Email, u.ID)
	}
	evs := auditOf(t, s, u.Email)
	if len(evs) != 1 || evs[0].ID != r.Audit.ID || evs[0].UserID != u.ID || evs[0].Action != account.AuditResetRequested ||
		evs[0].IP != "192.0.2.7" || evs[0].UserAgent != "curl/8.5" || !evs[0].At.Equal(t0) {
		t.Errorf("audit of %s = %v, want the one event %+v", u.Email, evs, *r.Audit)
	}
}

// testIssueKeepsNewest: each issue revokes the user's live tokens beyond
// keep, its own counted, and leaves other users' alone.
func testIssueKeepsNewest(t *testing.T, s account.Store, o account.OneTripStore) {
	u := oneUser(t, s)
	f := newFixture(t, s)
	v := f.user(f.org("Other", account.Retailer), "other@example.com")
	other := resetToken(t, s, v, "other", t0, hour)
	var rs []*account.ResetIssue
	for i := range 5 {
		r := newIssue(u.Email, fmt.Sprint("tok", i), time.Duration(i)*minute, 3, false)
		if err := o.IssueResetToken(context.Background(), r); err != nil {
			t.Fatalf("IssueResetToken %d: %v", i, err)
		}
		rs = append(rs, r)
	}
	now := at(5 * minute)
	for i, r := range rs {
		if got, want := live(t, s, r.Token, now), i >= 2; got != want {
			t.Errorf("token %d of 5 with keep=3: live = %v, want %v", i, got, want)
		}
	}
	if !live(t, s, other, now) {
		t.Error("issuing for one user revoked another user's token")
	}
	if n := len(auditOf(t, s, u.Email)); n != 5 {
		t.Errorf("%d audit events after 5 issues, want 5", n)
	}
}

// testIssueNoAccount: an unknown address, or the address of an account of
// another status, is ENOTFOUND and writes nothing.
func testIssueNoAccount(t *testing.T, s account.Store, o account.OneTripStore) {
	ctx := context.Background()
	u := oneUser(t, s)
	update(t, s, func(tx account.Tx) error { return tx.SetStatus(ctx, u.ID, account.StatusDeactivated) })
	for _, email := range []string{u.Email, "nobody@example.com"} {
		r := newIssue(email, "tok-"+email, 0, 3, true)
		wantCode(t, "IssueResetToken("+email+")", o.IssueResetToken(ctx, r), account.ENOTFOUND)
		if live(t, s, r.Token, at(minute)) {
			t.Errorf("IssueResetToken(%s) stored its token", email)
		}
		if evs := auditOf(t, s, email); len(evs) != 0 {
			t.Errorf("IssueResetToken(%s) appended %d audit events, want none", email, len(evs))
		}
	}
	if msgs := claim(t, s, at(minute), minute, 10); len(msgs) != 0 {
		t.Errorf("IssueResetToken for no active account queued %d mails, want none", len(msgs))
	}
}

// testIssueConflict: a token whose digest exists is ECONFLICT, and
// nothing of its transaction stays: no revocation, no mail, no audit.
func testIssueConflict(t *testing.T, s account.Store, o account.OneTripStore) {
	ctx := context.Background()
	u := oneUser(t, s)
	old := resetToken(t, s, u, "old", t0, hour)
	dup := resetToken(t, s, u, "dup", t0, hour)
	r := newIssue(u.Email, "dup", minute, 1, true)
	wantCode(t, "IssueResetToken with a taken digest", o.IssueResetToken(ctx, r), account.ECONFLICT)
	if !live(t, s, old, at(2*minute)) || !live(t, s, dup, at(2*minute)) {
		t.Error("a conflicting IssueResetToken revoked tokens")
	}
	if evs := auditOf(t, s, u.Email); len(evs) != 0 {
		t.Errorf("a conflicting IssueResetToken appended %d audit events, want none", len(evs))
	}
	if msgs := claim(t, s, at(2*minute), minute, 10); len(msgs) != 0 {
		t.Errorf("a conflicting IssueResetToken queued %d mails, want none", len(msgs))
	}
	// The store still works after the failed batch.
	if err := o.IssueResetToken(ctx, newIssue(u.Email, "new", 2*minute, 3, false)); err != nil {
		t.Errorf("IssueResetToken after a conflict: %v", err)
	}
}

// testIssueConcurrent: concurrent issuers for one account take turns, so
// exactly keep tokens stay live.
func testIssueConcurrent(t *testing.T, s account.Store, o account.OneTripStore) {
	u := oneUser(t, s)
	const n, keep = 20, 3
	rs := make([]*account.ResetIssue, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		rs[i] = newIssue(u.Email, fmt.Sprint("tok", i), 0, keep, false)
		wg.Go(func() { errs[i] = o.IssueResetToken(context.Background(), rs[i]) })
	}
	wg.Wait()
	alive := 0
	for i, r := range rs {
		if errs[i] != nil {
			t.Errorf("IssueResetToken %d: %v", i, errs[i])
		}
		if live(t, s, r.Token, at(minute)) {
			alive++
		}
	}
	if alive != keep {
		t.Errorf("%d live tokens after %d concurrent issues with keep=%d, want %d", alive, n, keep, keep)
	}
}

func testLiveResetTokenUser(t *testing.T, s account.Store, o account.OneTripStore) {
	ctx := context.Background()
	u := oneUser(t, s)
	tok := resetToken(t, s, u, "tok", t0, hour)
	gotT, gotU, err := o.LiveResetTokenUser(ctx, tok.Digest, at(minute))
	if err != nil {
		t.Fatalf("LiveResetTokenUser: %v", err)
	}
	if gotT.ID != tok.ID || gotT.UserID != u.ID || !bytes.Equal(gotT.Digest, tok.Digest) || !gotT.CreatedAt.Equal(t0) ||
		!gotT.ExpiresAt.Equal(at(hour)) || gotT.UsedAt != nil || gotT.RevokedAt != nil || gotT.CreatedAt.Location() != time.UTC {
		t.Errorf("LiveResetTokenUser token = %+v, want %+v", *gotT, *tok)
	}
	if gotU.ID != u.ID || gotU.Email != u.Email || gotU.Status != u.Status {
		t.Errorf("LiveResetTokenUser user = %d %s %s, want %d %s %s", gotU.ID, gotU.Email, gotU.Status, u.ID, u.Email, u.Status)
	}

	wantCode(t, "expired token", second(o.LiveResetTokenUser(ctx, tok.Digest, at(hour))), account.ENOTFOUND)
	wantCode(t, "unknown token", second(o.LiveResetTokenUser(ctx, unknownToken.Digest, at(minute))), account.ENOTFOUND)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.ConsumeResetToken(ctx, tok.Digest, at(minute))
		return err
	})
	wantCode(t, "used token", second(o.LiveResetTokenUser(ctx, tok.Digest, at(2*minute))), account.ENOTFOUND)
	revoked := resetToken(t, s, u, "revoked", t0, hour)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.RevokeResetTokens(ctx, u.ID, 0, at(minute))
		return err
	})
	wantCode(t, "revoked token", second(o.LiveResetTokenUser(ctx, revoked.Digest, at(2*minute))), account.ENOTFOUND)
}

// second returns the error of a LiveResetTokenUser call.
func second(_ *account.ResetToken, _ *account.User, err error) error { return err }
