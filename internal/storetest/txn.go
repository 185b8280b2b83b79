package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
)

func testUpdateCommits(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Project Thanos", account.Retailer)
	if o.ID == 0 {
		t.Fatal("CreateOrganization did not set ID")
	}
	view(t, s, func(tx account.Tx) error {
		got, err := tx.OrganizationByName(ctx, o.Name)
		if err != nil {
			return err
		}
		sameOrg(t, "after commit", got, o)
		return nil
	})
}

func testUpdateRollsBack(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Kept", account.Supplier)
	u := f.user(o, "kept@example.com")
	var lost *account.ResetToken
	err := s.Update(ctx, func(tx account.Tx) error {
		o2 := &account.Organization{UUID: f.uuid(), Name: "Lost", Type: account.Retailer, CreatedAt: t0}
		if err := tx.CreateOrganization(ctx, o2); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, f.newUser(o2, "lost@example.com")); err != nil {
			return err
		}
		if err := tx.SetPassword(ctx, u.ID, "changed"); err != nil {
			return err
		}
		lost = &account.ResetToken{Digest: account.Digest("lost"), UserID: u.ID, CreatedAt: t0, ExpiresAt: at(hour)}
		if err := tx.CreateResetToken(ctx, lost); err != nil {
			return err
		}
		if _, err := tx.Reserve(ctx, "lost", t0, 10); err != nil {
			return err
		}
		if err := tx.EnqueueMail(ctx, &account.OutboxMessage{Kind: account.MailReset, To: u.Email, CreatedAt: t0}); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	view(t, s, func(tx account.Tx) error {
		_, err := tx.OrganizationByName(ctx, "Lost")
		wantCode(t, "rolled-back organization", err, account.ENOTFOUND)
		_, err = tx.UserByEmail(ctx, "lost@example.com")
		wantCode(t, "rolled-back user", err, account.ENOTFOUND)
		_, err = tx.LiveResetToken(ctx, lost.Digest, t0)
		wantCode(t, "rolled-back reset token", err, account.ENOTFOUND)
		if n, err := tx.CountUsers(ctx); err != nil || n != 1 {
			t.Errorf("CountUsers = %d, %v; want 1", n, err)
		}
		got, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if got.PasswordHash != u.PasswordHash {
			t.Error("rolled-back SetPassword is visible")
		}
		return nil
	})
	if n := counterValue(t, s, "lost", t0); n != 0 {
		t.Errorf("rolled-back counter = %d, want 0", n)
	}
	msgs, err := s.ClaimMail(ctx, at(hour), minute, 10)
	if err != nil || len(msgs) != 0 {
		t.Errorf("ClaimMail after rollback = %d messages, %v; want none", len(msgs), err)
	}
}

func testUpdateCancelled(t *testing.T, s account.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Update(ctx, func(tx account.Tx) error {
		return tx.CreateOrganization(ctx, &account.Organization{UUID: "cancelled", Name: "Cancelled",
			Type: account.Retailer, CreatedAt: t0})
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context returned %v, want context.Canceled", err)
	}
	view(t, s, func(tx account.Tx) error {
		_, err := tx.OrganizationByName(context.Background(), "Cancelled")
		wantCode(t, "organization of a cancelled Update", err, account.ENOTFOUND)
		return nil
	})
}

// testUpdateConcurrent runs 100 Updates at once: all must commit, none may
// fail with a lock or busy error.
func testUpdateConcurrent(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Busy", account.Retailer)
	const n = 100
	users := make([]*account.User, n)
	for i := range users {
		users[i] = f.newUser(o, fmt.Sprintf("user%d@example.com", i))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx account.Tx) error {
				if err := tx.CreateUser(ctx, users[i]); err != nil {
					return err
				}
				_, err := tx.Reserve(ctx, "busy", t0, n)
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	}
	view(t, s, func(tx account.Tx) error {
		if got, err := tx.CountUsers(ctx); err != nil || got != n {
			t.Errorf("CountUsers = %d, %v; want %d", got, err, n)
		}
		for _, u := range users {
			if _, err := tx.UserByID(ctx, u.ID); err != nil {
				t.Errorf("user %d: %v", u.ID, err)
			}
		}
		return nil
	})
	if got := counterValue(t, s, "busy", t0); got != n {
		t.Errorf("counter = %d, want %d", got, n)
	}
}

func testViewSeesCommitted(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Seen", account.Retailer)
	err := s.View(ctx, func(tx account.Tx) error {
		got, err := tx.OrganizationByName(ctx, "Seen")
		if err != nil {
			return err
		}
		sameOrg(t, "View", got, o)
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("View returned %v, want fn's error", err)
	}
}

func testViewReadOnly(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Read Only", account.Retailer)
	u := f.user(o, "ro@example.com")
	_ = s.View(ctx, func(tx account.Tx) error {
		err := tx.CreateOrganization(ctx, &account.Organization{UUID: f.uuid(), Name: "Written in View",
			Type: account.Retailer, CreatedAt: t0})
		if err == nil {
			t.Error("CreateOrganization in a View succeeded")
		}
		return nil
	})
	_ = s.View(ctx, func(tx account.Tx) error {
		if err := tx.SetPassword(ctx, u.ID, "x"); err == nil {
			t.Error("SetPassword in a View succeeded")
		}
		return nil
	})
	view(t, s, func(tx account.Tx) error {
		_, err := tx.OrganizationByName(ctx, "Written in View")
		wantCode(t, "organization written in a View", err, account.ENOTFOUND)
		got, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if got.PasswordHash != u.PasswordHash {
			t.Error("SetPassword in a View took effect")
		}
		return nil
	})
}
