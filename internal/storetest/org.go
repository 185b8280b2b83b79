package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
)

// testOrgUsersPages: OrgUsers returns the organization's users only, oldest
// first, a page at a time, each with its Org.
func testOrgUsersPages(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	a, b := f.org("Project Thanos", account.Retailer), f.org("Crux Supplier", account.Supplier)
	var want []*account.User
	for i := range 5 {
		want = append(want, f.user(a, fmt.Sprintf("a%d@projectthanos.com", i)))
		f.user(b, fmt.Sprintf("b%d@cruxsupplier.com", i))
	}
	for _, c := range []struct{ offset, limit, from, to int }{{0, 3, 0, 3}, {3, 3, 3, 5}, {5, 3, 5, 5}, {0, 10, 0, 5}} {
		view(t, s, func(tx account.Tx) error {
			got, err := tx.OrgUsers(ctx, a.ID, c.offset, c.limit)
			if err != nil {
				t.Fatalf("OrgUsers(%d, %d): %v", c.offset, c.limit, err)
			}
			if len(got) != c.to-c.from {
				t.Fatalf("OrgUsers(%d, %d): %d users, want %d", c.offset, c.limit, len(got), c.to-c.from)
			}
			for i, u := range got {
				sameUser(t, fmt.Sprintf("OrgUsers(%d, %d)[%d]", c.offset, c.limit, i), u, want[c.from+i])
			}
			return nil
		})
	}
}

// testSetPermissions: SetPermissions replaces the names, in their order;
// ENOTFOUND for an unknown user.
func testSetPermissions(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	u, v := f.colleagues()
	for _, perms := range [][]string{{account.PermEditOrgUsers, "view_order"}, nil, {account.PermViewOrgUsers}} {
		update(t, s, func(tx account.Tx) error { return tx.SetPermissions(ctx, u.ID, perms) })
		view(t, s, func(tx account.Tx) error {
			got, err := tx.UserByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Permissions) != 0 || len(perms) != 0 {
				if !slices.Equal(got.Permissions, perms) {
					t.Errorf("after SetPermissions(%v): %v", perms, got.Permissions)
				}
			}
			other, err := tx.UserByID(ctx, v.ID)
			if err != nil || !slices.Equal(other.Permissions, v.Permissions) {
				t.Errorf("the colleague's permissions changed: %v %v", other, err)
			}
			return nil
		})
	}
	err := s.Update(ctx, func(tx account.Tx) error { return tx.SetPermissions(ctx, u.ID+v.ID+100, nil) })
	wantCode(t, "SetPermissions of an unknown user", err, account.ENOTFOUND)
}

// testHasActiveHolder: only an ACTIVE user of the organization, other than
// the one excepted, holding exactly that permission counts.
func testHasActiveHolder(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o, other := f.org("Project Thanos", account.Retailer), f.org("Crux Supplier", account.Supplier)
	editor := f.user(o, "editor@projectthanos.com") // view and edit
	viewer := f.user(o, "viewer@projectthanos.com")
	gone := f.user(o, "gone@projectthanos.com")
	f.user(other, "editor@cruxsupplier.com")
	update(t, s, func(tx account.Tx) error {
		if err := tx.SetPermissions(ctx, viewer.ID, []string{account.PermViewOrgUsers}); err != nil {
			return err
		}
		return tx.SetStatus(ctx, gone.ID, account.StatusDeactivated)
	})
	check := func(perm string, except *account.User, want bool) {
		t.Helper()
		view(t, s, func(tx account.Tx) error {
			got, err := tx.HasActiveHolder(ctx, o.ID, perm, except.ID)
			if err != nil || got != want {
				t.Errorf("HasActiveHolder(%s, except %s) = %v, %v; want %v", perm, except.Email, got, err, want)
			}
			return nil
		})
	}
	check(account.PermEditOrgUsers, editor, false) // gone is deactivated, the other organization's does not count
	check(account.PermEditOrgUsers, viewer, true)
	check(account.PermViewOrgUsers, editor, true)
	check("edit_org", viewer, false) // a prefix of a name is no name
	check("org_users", viewer, false)
}

// testLockOrganization: LockOrganization finds the organization (ENOTFOUND
// otherwise) and serializes "check that another editor remains, then step
// down": of two editors stepping down at once, exactly one does.
func testLockOrganization(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Project Thanos", account.Retailer)
	err := s.Update(ctx, func(tx account.Tx) error { return tx.LockOrganization(ctx, o.ID+100) })
	wantCode(t, "LockOrganization of an unknown organization", err, account.ENOTFOUND)
	for round := range 10 {
		a := f.user(o, fmt.Sprintf("a%d@projectthanos.com", round))
		b := f.user(o, fmt.Sprintf("b%d@projectthanos.com", round))
		var wg sync.WaitGroup
		for _, u := range []*account.User{a, b} {
			wg.Go(func() {
				err := s.Update(ctx, func(tx account.Tx) error {
					if err := tx.LockOrganization(ctx, o.ID); err != nil {
						return err
					}
					ok, err := tx.HasActiveHolder(ctx, o.ID, account.PermEditOrgUsers, u.ID)
					if err != nil || !ok {
						return err
					}
					return tx.SetPermissions(ctx, u.ID, nil)
				})
				if err != nil {
					t.Errorf("step down: %v", err)
				}
			})
		}
		wg.Wait()
		view(t, s, func(tx account.Tx) error {
			ok, err := tx.HasActiveHolder(ctx, o.ID, account.PermEditOrgUsers, 0)
			if err != nil || !ok {
				t.Fatalf("round %d: both editors stepped down (%v)", round, err)
			}
			return nil
		})
		// The survivor steps down outside the race, for the next round.
		update(t, s, func(tx account.Tx) error {
			if err := tx.SetPermissions(ctx, a.ID, nil); err != nil {
				return err
			}
			return tx.SetPermissions(ctx, b.ID, nil)
		})
	}
}
