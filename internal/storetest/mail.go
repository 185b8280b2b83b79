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

// enqueue queues a message created (and due) at created.
func enqueue(t *testing.T, s account.Store, to string, created time.Time) *account.OutboxMessage {
	t.Helper()
	m := &account.OutboxMessage{Kind: account.MailReset, To: to, CreatedAt: created,
		Meta: account.Meta{IP: "192.0.2.7", UserAgent: "curl/8.5"}}
	update(t, s, func(tx account.Tx) error { return tx.EnqueueMail(context.Background(), m) })
	if m.ID == 0 {
		t.Fatal("EnqueueMail did not set ID")
	}
	return m
}

func claim(t *testing.T, s account.Store, now time.Time, lease time.Duration, limit int) []*account.OutboxMessage {
	t.Helper()
	msgs, err := s.ClaimMail(context.Background(), now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimMail: %v", err)
	}
	return msgs
}

func ids(msgs []*account.OutboxMessage) []int64 {
	var out []int64
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func record(t *testing.T, s account.Store, a *account.MailAttempt) {
	t.Helper()
	update(t, s, func(tx account.Tx) error { return tx.RecordMailAttempt(context.Background(), a) })
}

func testMailEnqueueClaim(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	u := f.user(f.org("Crux Supplier", account.Supplier), "rbreslawski@cruxsupplier.com")
	late := enqueue(t, s, "late@example.com", at(2*minute))
	first := enqueue(t, s, "first@example.com", t0)
	withUser := &account.OutboxMessage{Kind: account.MailPasswordChanged, To: u.Email, UserID: u.ID, CreatedAt: at(minute)}
	update(t, s, func(tx account.Tx) error { return tx.EnqueueMail(ctx, withUser) })
	future := enqueue(t, s, "future@example.com", at(hour))

	got := claim(t, s, at(2*minute), 2*hour, 10)
	if want := []int64{first.ID, withUser.ID, late.ID}; fmt.Sprint(ids(got)) != fmt.Sprint(want) {
		t.Fatalf("ClaimMail returned %v, want the due messages by due time %v", ids(got), want)
	}
	m := got[0]
	if m.Kind != account.MailReset || m.To != first.To || m.UserID != 0 || m.Meta != first.Meta ||
		!m.CreatedAt.Equal(t0) || m.Attempts != 0 {
		t.Errorf("claimed message = %+v, want %+v", *m, *first)
	}
	if m := got[1]; m.Kind != account.MailPasswordChanged || m.UserID != u.ID || m.Meta != (account.Meta{}) {
		t.Errorf("claimed message = %+v, want %+v", *m, *withUser)
	}
	if got := claim(t, s, at(hour), minute, 1); len(got) != 1 || got[0].ID != future.ID {
		t.Errorf("ClaimMail(limit=1) at t0+1h = %v, want [%d]", ids(got), future.ID)
	}
	if got, err := s.ClaimMail(ctx, at(hour), minute, 0); err != nil || len(got) != 0 {
		t.Errorf("ClaimMail(limit=0) = %v, %v; want none", ids(got), err)
	}
}

func testMailLease(t *testing.T, s account.Store) {
	m := enqueue(t, s, "a@example.com", t0)
	if got := claim(t, s, t0, 5*minute, 10); len(got) != 1 {
		t.Fatalf("first ClaimMail = %v, want [%d]", ids(got), m.ID)
	}
	if got := claim(t, s, at(5*minute-time.Millisecond), 5*minute, 10); len(got) != 0 {
		t.Errorf("ClaimMail within the lease = %v, want none", ids(got))
	}
	// The claimer died: once the lease lapses the message is due again.
	got := claim(t, s, at(5*minute), 5*minute, 10)
	if len(got) != 1 || got[0].ID != m.ID {
		t.Fatalf("ClaimMail after the lease = %v, want [%d]", ids(got), m.ID)
	}
	if got := claim(t, s, at(6*minute), 5*minute, 10); len(got) != 0 {
		t.Errorf("ClaimMail within the second lease = %v, want none", ids(got))
	}
}

// testMailLeaseRenewed: a renewed lease holds the message past the first
// lease's end; a finished message is not made pending by a renewal.
func testMailLeaseRenewed(t *testing.T, s account.Store) {
	ctx := context.Background()
	m := enqueue(t, s, "a@example.com", t0)
	done := enqueue(t, s, "b@example.com", t0)
	if got := claim(t, s, t0, 15*time.Second, 10); len(got) != 2 {
		t.Fatalf("ClaimMail = %v, want [%d %d]", ids(got), m.ID, done.ID)
	}
	record(t, s, &account.MailAttempt{MessageID: done.ID, At: at(time.Second), Outcome: account.MailSent})
	update(t, s, func(tx account.Tx) error {
		return tx.RenewMailLease(ctx, []int64{m.ID, done.ID, done.ID + 1000}, at(25*time.Second))
	})
	if got := claim(t, s, at(25*time.Second-time.Millisecond), 15*time.Second, 10); len(got) != 0 {
		t.Errorf("ClaimMail within the renewed lease = %v, want none", ids(got))
	}
	if got := claim(t, s, at(25*time.Second), 15*time.Second, 10); len(got) != 1 || got[0].ID != m.ID {
		t.Errorf("ClaimMail once the renewed lease lapsed = %v, want [%d]", ids(got), m.ID)
	}
}

// testMailConcurrentClaim lets ten claimers race for twenty messages: each
// message goes to exactly one of them.
func testMailConcurrentClaim(t *testing.T, s account.Store) {
	const messages, claimers = 20, 10
	for i := range messages {
		enqueue(t, s, fmt.Sprintf("m%d@example.com", i), at(time.Duration(i)*time.Second))
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[int64]int{}
	)
	for range claimers {
		wg.Go(func() {
			msgs, err := s.ClaimMail(context.Background(), at(hour), minute, 3)
			if err != nil {
				t.Errorf("ClaimMail: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				seen[m.ID]++
			}
		})
	}
	wg.Wait()
	if len(seen) != messages {
		t.Errorf("claimers got %d distinct messages, want %d", len(seen), messages)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("message %d claimed %d times", id, n)
		}
	}
}

func testMailFinished(t *testing.T, s account.Store) {
	for _, outcome := range []account.MailOutcome{account.MailSent, account.MailDropped, account.MailGaveUp} {
		t.Run(string(outcome), func(t *testing.T) {
			m := enqueue(t, s, string(outcome)+"@example.com", t0)
			if got := claim(t, s, t0, minute, 10); len(got) != 1 || got[0].ID != m.ID {
				t.Fatalf("ClaimMail = %v, want [%d]", ids(got), m.ID)
			}
			wantAddress(t, s, m.ID, m.To, nil)
			digest := account.Digest(m.To)
			record(t, s, &account.MailAttempt{MessageID: m.ID, At: at(time.Second), Outcome: outcome, AddrDigest: digest})
			wantAddress(t, s, m.ID, "", digest)
			for _, now := range []time.Time{at(time.Second), at(hour), at(100 * hour)} {
				if got := claim(t, s, now, minute, 10); len(got) != 0 {
					t.Errorf("ClaimMail at t0+%v after %s = %v, want none", now.Sub(t0), outcome, ids(got))
				}
			}
			wantAttempts(t, s, m.ID, []account.MailAttempt{{MessageID: m.ID, At: at(time.Second), Outcome: outcome}})
		})
	}
}

func testMailFailed(t *testing.T, s account.Store) {
	m := enqueue(t, s, "a@example.com", t0)
	claim(t, s, t0, minute, 10)
	first := account.MailAttempt{MessageID: m.ID, At: at(time.Second), Outcome: account.MailFailed,
		Error: "421 4.7.0 try again later", NextAt: at(10 * minute)}
	record(t, s, &first)
	// Not due before NextAt, even once the lease would have lapsed.
	if got := claim(t, s, at(10*minute-time.Millisecond), minute, 10); len(got) != 0 {
		t.Errorf("ClaimMail before NextAt = %v, want none", ids(got))
	}
	got := claim(t, s, at(10*minute), minute, 10)
	if len(got) != 1 || got[0].ID != m.ID || got[0].Attempts != 1 {
		t.Fatalf("ClaimMail at NextAt = %v (attempts %v), want [%d] with 1 attempt", ids(got), attempts(got), m.ID)
	}
	second := account.MailAttempt{MessageID: m.ID, At: at(10*minute + time.Second), Outcome: account.MailFailed,
		Error: "connection refused", NextAt: at(30 * minute)}
	record(t, s, &second)
	got = claim(t, s, at(30*minute), minute, 10)
	if len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("ClaimMail after the second failure = %v (attempts %v), want 2 attempts", ids(got), attempts(got))
	}
	wantAddress(t, s, m.ID, m.To, nil) // still needed for the next try
	third := account.MailAttempt{MessageID: m.ID, At: at(30*minute + time.Second), Outcome: account.MailSent}
	record(t, s, &third)
	if got := claim(t, s, at(hour), minute, 10); len(got) != 0 {
		t.Errorf("ClaimMail after MailSent = %v, want none", ids(got))
	}
	wantAttempts(t, s, m.ID, []account.MailAttempt{first, second, third})
}

func attempts(msgs []*account.OutboxMessage) []int {
	var out []int
	for _, m := range msgs {
		out = append(out, m.Attempts)
	}
	return out
}

func testMailUnknown(t *testing.T, s account.Store) {
	ctx := context.Background()
	m := enqueue(t, s, "a@example.com", t0)
	err := s.Update(ctx, func(tx account.Tx) error {
		return tx.RecordMailAttempt(ctx, &account.MailAttempt{MessageID: m.ID + 1000, At: t0, Outcome: account.MailSent})
	})
	wantCode(t, "RecordMailAttempt of an unknown message", err, account.ENOTFOUND)
}

// wantAddress checks the address and digest a message holds when the store
// is an Inspector.
func wantAddress(t *testing.T, s account.Store, id int64, addr string, digest []byte) {
	t.Helper()
	in, ok := s.(Inspector)
	if !ok {
		t.Log("store is no storetest.Inspector: stored address not checked")
		return
	}
	gotAddr, gotDigest, err := in.OutboxAddress(context.Background(), id)
	if err != nil {
		t.Fatalf("OutboxAddress: %v", err)
	}
	if gotAddr != addr || !bytes.Equal(gotDigest, digest) {
		t.Errorf("message %d holds address %q, digest %x; want %q, %x", id, gotAddr, gotDigest, addr, digest)
	}
}

// wantAttempts checks the recorded attempts when the store is an Inspector.
func wantAttempts(t *testing.T, s account.Store, id int64, want []account.MailAttempt) {
	t.Helper()
	in, ok := s.(Inspector)
	if !ok {
		t.Log("store is no storetest.Inspector: recorded attempts not checked")
		return
	}
	got, err := in.MailAttempts(context.Background(), id)
	if err != nil {
		t.Fatalf("MailAttempts: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("MailAttempts returned %d attempts, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.MessageID != w.MessageID || !g.At.Equal(w.At) || g.Outcome != w.Outcome || g.Error != w.Error ||
			!g.NextAt.Equal(w.NextAt) {
			t.Errorf("attempt %d = %+v, want %+v", i, *g, w)
		}
	}
}

func testAudit(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	u := f.user(f.org("Crux Supplier", account.Supplier), "rbreslawski@cruxsupplier.com")
	want := []*account.AuditEvent{
		{At: t0, Action: account.AuditResetRequested, EmailDigest: account.Digest(u.Email), UserID: u.ID,
			IP: "192.0.2.7", UserAgent: "curl/8.5", Detail: "sandbox"},
		{At: at(time.Second), Action: account.AuditLoginFailed, EmailDigest: account.Digest("nobody@example.com")},
		{At: at(2 * time.Second), Action: account.AuditAdmin, Detail: "created user"},
	}
	update(t, s, func(tx account.Tx) error {
		for _, e := range want {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	for i := 1; i < len(want); i++ {
		if want[i].ID <= want[i-1].ID {
			t.Errorf("audit IDs %d then %d, want increasing", want[i-1].ID, want[i].ID)
		}
	}
	in, ok := s.(Inspector)
	if !ok {
		t.Log("store is no storetest.Inspector: audit trail not read back")
		return
	}
	got, err := in.AuditEvents(ctx, 0, 100)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("AuditEvents returned %d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || !g.At.Equal(w.At) || g.Action != w.Action || !bytes.Equal(g.EmailDigest, w.EmailDigest) ||
			g.UserID != w.UserID || g.IP != w.IP || g.UserAgent != w.UserAgent || g.Detail != w.Detail {
			t.Errorf("audit event %d = %+v, want %+v", i, *g, *w)
		}
	}
	if got, err := in.AuditEvents(ctx, want[1].ID, 100); err != nil || len(got) != 1 || got[0].ID != want[2].ID {
		t.Errorf("AuditEvents after the second = %d events, %v; want the third only", len(got), err)
	}
}

// testMailIDKey: the key is stored once; later calls return it, not
// theirs.
func testMailIDKey(t *testing.T, s account.Store) {
	ctx := context.Background()
	get := func(fresh []byte) []byte {
		t.Helper()
		var v []byte
		update(t, s, func(tx account.Tx) (err error) {
			v, err = tx.MailIDKey(ctx, fresh)
			return err
		})
		return v
	}
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	if got := get(a); !bytes.Equal(got, a) {
		t.Errorf("first MailIDKey = %x, want the fresh %x", got, a)
	}
	if got := get(b); !bytes.Equal(got, a) {
		t.Errorf("second MailIDKey = %x, want the stored %x", got, a)
	}
}
