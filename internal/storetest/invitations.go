package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// invitation stores an invitation named name, created at created and
// living ttl.
func invitation(t *testing.T, s account.Store, u *account.User, name string, created time.Time, ttl time.Duration) *account.Invitation {
	t.Helper()
	i := &account.Invitation{Digest: account.Digest(name), UserID: u.ID, CreatedAt: created, ExpiresAt: created.Add(ttl)}
	update(t, s, func(tx account.Tx) error { return tx.CreateInvitation(context.Background(), i) })
	return i
}

// findInvitation returns the stored invitation with i's digest.
func findInvitation(t *testing.T, s account.Store, i *account.Invitation) *account.Invitation {
	t.Helper()
	var got *account.Invitation
	view(t, s, func(tx account.Tx) (err error) {
		got, err = tx.InvitationByDigest(context.Background(), i.Digest)
		return err
	})
	return got
}

func sameTime(p *time.Time, want time.Time) bool {
	return p != nil && p.Equal(want) && p.Location() == time.UTC
}

func testInvitationCreateAndFind(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	want := invitation(t, s, u, "inv", t0, 2*hour)
	if want.ID == 0 {
		t.Error("CreateInvitation did not set ID")
	}
	got := findInvitation(t, s, want)
	if got.ID != want.ID || got.UserID != u.ID || !bytes.Equal(got.Digest, want.Digest) || !got.CreatedAt.Equal(t0) ||
		got.CreatedAt.Location() != time.UTC || !got.ExpiresAt.Equal(at(2*hour)) ||
		got.UsedAt != nil || got.RevokedAt != nil || got.RenewedAt != nil {
		t.Errorf("InvitationByDigest = %+v, want %+v", *got, *want)
	}
	err := s.Update(ctx, func(tx account.Tx) error {
		return tx.CreateInvitation(ctx, &account.Invitation{Digest: want.Digest, UserID: u.ID, CreatedAt: t0, ExpiresAt: at(hour)})
	})
	wantCode(t, "CreateInvitation with a taken digest", err, account.ECONFLICT)
	err = s.Update(ctx, func(tx account.Tx) error {
		return tx.CreateInvitation(ctx, &account.Invitation{Digest: account.Digest("other"), UserID: u.ID + 1000, CreatedAt: t0, ExpiresAt: at(hour)})
	})
	wantCode(t, "CreateInvitation for no user", err, account.ENOTFOUND)
	err = s.View(ctx, func(tx account.Tx) error {
		_, err := tx.InvitationByDigest(ctx, account.Digest("unknown"))
		return err
	})
	wantCode(t, "InvitationByDigest(unknown)", err, account.ENOTFOUND)
}

// testInvitationConsume spends a live invitation once; an expired, a
// revoked or a spent one cannot be spent, and InvitationByDigest still
// finds each with its state.
func testInvitationConsume(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	inv := invitation(t, s, u, "inv", t0, hour)
	update(t, s, func(tx account.Tx) error {
		got, err := tx.ConsumeInvitation(ctx, inv.Digest, at(minute))
		if err != nil {
			return err
		}
		if got.ID != inv.ID || !sameTime(got.UsedAt, at(minute)) {
			t.Errorf("ConsumeInvitation = %+v, want invitation %d used at t0+1m", *got, inv.ID)
		}
		return nil
	})
	if got := findInvitation(t, s, inv); !sameTime(got.UsedAt, at(minute)) {
		t.Errorf("spent invitation: UsedAt %v, want t0+1m", got.UsedAt)
	}
	older := invitation(t, s, u, "older", t0, hour)
	newer := invitation(t, s, u, "newer", at(minute), hour)
	update(t, s, func(tx account.Tx) error {
		n, err := tx.RevokeInvitations(ctx, u.ID, 1, at(2*minute)) // keeps the newer
		if n != 1 {
			t.Errorf("RevokeInvitations(keep 1) revoked %d, want 1", n)
		}
		return err
	})
	if got := findInvitation(t, s, newer); got.RevokedAt != nil {
		t.Errorf("the newer invitation was revoked: %+v", *got)
	}
	if got := findInvitation(t, s, older); !sameTime(got.RevokedAt, at(2*minute)) {
		t.Errorf("the older invitation: RevokedAt %v, want t0+2m", got.RevokedAt)
	}
	update(t, s, func(tx account.Tx) error {
		n, err := tx.RevokeInvitations(ctx, u.ID, 0, at(3*minute))
		if n != 1 {
			t.Errorf("RevokeInvitations(keep 0) revoked %d, want 1", n)
		}
		return err
	})
	fresh := invitation(t, s, u, "fresh", at(4*minute), hour)
	for _, c := range []struct {
		name string
		inv  *account.Invitation
		now  time.Time
	}{
		{"spent", inv, at(5 * minute)},
		{"revoked", newer, at(5 * minute)},
		{"expired", fresh, at(4*minute + hour)}, // expires exactly now
		{"unknown", &account.Invitation{Digest: account.Digest("unknown")}, at(5 * minute)},
	} {
		err := s.Update(ctx, func(tx account.Tx) error {
			_, err := tx.ConsumeInvitation(ctx, c.inv.Digest, c.now)
			return err
		})
		wantCode(t, "ConsumeInvitation("+c.name+")", err, account.ENOTFOUND)
	}
}

// testInvitationConsumeConcurrent spends one invitation from 50
// goroutines: exactly one may win.
func testInvitationConsumeConcurrent(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	inv := invitation(t, s, u, "inv", t0, hour)
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx account.Tx) error {
				_, err := tx.ConsumeInvitation(ctx, inv.Digest, at(minute))
				return err
			})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch account.ErrorCode(err) {
		case "":
			wins++
		case account.ENOTFOUND:
		default:
			t.Errorf("ConsumeInvitation: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent ConsumeInvitation calls won, want exactly 1", wins, n)
	}
}

// testInvitationRenew renews an expired invitation once; a live, a spent
// or an already renewed one is not renewed.
func testInvitationRenew(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	inv := invitation(t, s, u, "inv", t0, hour)
	spent := invitation(t, s, u, "spent", t0, hour)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.ConsumeInvitation(ctx, spent.Digest, at(minute))
		return err
	})
	renew := func(i *account.Invitation, now time.Time) (*account.Invitation, error) {
		var got *account.Invitation
		err := s.Update(ctx, func(tx account.Tx) (err error) {
			got, err = tx.RenewInvitation(ctx, i.Digest, now)
			return err
		})
		return got, err
	}
	_, err := renew(inv, at(hour-time.Millisecond))
	wantCode(t, "RenewInvitation of a live invitation", err, account.ENOTFOUND)
	_, err = renew(spent, at(2*hour))
	wantCode(t, "RenewInvitation of a spent invitation", err, account.ENOTFOUND)
	got, err := renew(inv, at(hour))
	if err != nil {
		t.Fatalf("RenewInvitation of an expired invitation: %v", err)
	}
	if got.ID != inv.ID || !sameTime(got.RenewedAt, at(hour)) {
		t.Errorf("RenewInvitation = %+v, want invitation %d renewed at t0+1h", *got, inv.ID)
	}
	_, err = renew(inv, at(2*hour))
	wantCode(t, "second RenewInvitation", err, account.ENOTFOUND)
	if got := findInvitation(t, s, inv); !sameTime(got.RenewedAt, at(hour)) || got.UsedAt != nil {
		t.Errorf("renewed invitation as stored: %+v", *got)
	}
}

// testInvitationPurge drops invitations that ended (spent, revoked or
// expired) before the cut-off and keeps the rest.
func testInvitationPurge(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := oneUser(t, s)
	invitation(t, s, u, "expired", at(-3*hour), hour)
	spent := invitation(t, s, u, "spent", at(-2*hour), 10*hour)
	live := invitation(t, s, u, "live", at(-minute), 2*hour)
	update(t, s, func(tx account.Tx) error {
		_, err := tx.ConsumeInvitation(ctx, spent.Digest, at(-hour))
		return err
	})
	if n := purgeAll(t, s, account.PurgeInvitations, 1); n != 2 {
		t.Errorf("purged %d invitations, want 2 (expired, spent)", n)
	}
	if got := findInvitation(t, s, live); got.ID != live.ID {
		t.Errorf("the live invitation after the purge: %+v", *got)
	}
}
