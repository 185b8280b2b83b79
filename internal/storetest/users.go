package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

func testOrgCreateAndFind(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	a := f.org("Project Thanos", account.Retailer)
	b := f.org("Crux Supplier", account.Supplier)
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Fatalf("IDs %d and %d, want distinct non-zero", a.ID, b.ID)
	}
	view(t, s, func(tx account.Tx) error {
		for _, want := range []*account.Organization{a, b} {
			got, err := tx.OrganizationByName(ctx, want.Name)
			if err != nil {
				t.Errorf("OrganizationByName(%q): %v", want.Name, err)
				continue
			}
			sameOrg(t, "OrganizationByName", got, want)
		}
		return nil
	})
}

func testOrgNotFound(t *testing.T, s account.Store) {
	f := newFixture(t, s)
	f.org("Project Thanos", account.Retailer)
	view(t, s, func(tx account.Tx) error {
		_, err := tx.OrganizationByName(context.Background(), "Project Hulk")
		wantCode(t, "OrganizationByName of an unknown name", err, account.ENOTFOUND)
		return nil
	})
}

func testOrgConflict(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Project Thanos", account.Retailer)
	for name, dup := range map[string]*account.Organization{
		"same name": {UUID: f.uuid(), Name: o.Name, Type: account.Supplier, CreatedAt: t0},
		"same uuid": {UUID: o.UUID, Name: "Other", Type: account.Supplier, CreatedAt: t0},
	} {
		err := s.Update(ctx, func(tx account.Tx) error { return tx.CreateOrganization(ctx, dup) })
		wantCode(t, "CreateOrganization with the "+name, err, account.ECONFLICT)
	}
}

func testUserCreateAndFind(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Crux Supplier", account.Supplier)
	u := f.user(o, "rbreslawski@cruxsupplier.com")
	bare := f.newUser(o, "bare@cruxsupplier.com")
	bare.PasswordHash, bare.Permissions, bare.Phone, bare.JobTitle = "", nil, "", ""
	bare.Status = account.StatusWaiting
	update(t, s, func(tx account.Tx) error { return tx.CreateUser(ctx, bare) })
	if u.ID == 0 || bare.ID == 0 || u.ID == bare.ID {
		t.Fatalf("IDs %d and %d, want distinct non-zero", u.ID, bare.ID)
	}
	view(t, s, func(tx account.Tx) error {
		for _, want := range []*account.User{u, bare} {
			got, err := tx.UserByID(ctx, want.ID)
			if err != nil {
				t.Errorf("UserByID: %v", err)
			} else {
				sameUser(t, "UserByID", got, want)
			}
			got, err = tx.UserByEmail(ctx, want.Email)
			if err != nil {
				t.Errorf("UserByEmail: %v", err)
			} else {
				sameUser(t, "UserByEmail", got, want)
			}
			got, err = tx.UserByUUID(ctx, want.UUID)
			if err != nil {
				t.Errorf("UserByUUID: %v", err)
			} else {
				sameUser(t, "UserByUUID", got, want)
			}
		}
		return nil
	})
}

func testUserNotFound(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	u := f.user(f.org("Crux Supplier", account.Supplier), "rbreslawski@cruxsupplier.com")
	view(t, s, func(tx account.Tx) error {
		_, err := tx.UserByID(ctx, u.ID+1000)
		wantCode(t, "UserByID", err, account.ENOTFOUND)
		_, err = tx.UserByEmail(ctx, "nobody@cruxsupplier.com")
		wantCode(t, "UserByEmail", err, account.ENOTFOUND)
		_, err = tx.UserByUUID(ctx, f.uuid())
		wantCode(t, "UserByUUID", err, account.ENOTFOUND)
		return nil
	})
}

func testUserConflict(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Crux Supplier", account.Supplier)
	u := f.user(o, "rbreslawski@cruxsupplier.com")
	sameEmail := f.newUser(o, u.Email)
	sameUUID := f.newUser(o, "other@cruxsupplier.com")
	sameUUID.UUID = u.UUID
	for name, dup := range map[string]*account.User{
		"same e-mail": sameEmail,
		"same uuid":   sameUUID,
	} {
		err := s.Update(ctx, func(tx account.Tx) error { return tx.CreateUser(ctx, dup) })
		wantCode(t, "CreateUser with the "+name, err, account.ECONFLICT)
	}
	view(t, s, func(tx account.Tx) error {
		if n, err := tx.CountUsers(ctx); err != nil || n != 1 {
			t.Errorf("CountUsers = %d, %v; want 1", n, err)
		}
		return nil
	})
}

func testUserUnknownOrg(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Crux Supplier", account.Supplier)
	u := f.newUser(&account.Organization{ID: o.ID + 1000}, "orphan@example.com")
	err := s.Update(ctx, func(tx account.Tx) error { return tx.CreateUser(ctx, u) })
	wantCode(t, "CreateUser in an unknown organization", err, account.ENOTFOUND)
}

func testUserSetters(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Crux Supplier", account.Supplier)
	u := f.user(o, "rbreslawski@cruxsupplier.com")
	other := f.user(o, "other@cruxsupplier.com")
	update(t, s, func(tx account.Tx) error {
		if err := tx.SetPassword(ctx, u.ID, "$argon2id$new"); err != nil {
			return err
		}
		return tx.SetStatus(ctx, u.ID, account.StatusDeactivated)
	})
	err := s.Update(ctx, func(tx account.Tx) error { return tx.SetPassword(ctx, u.ID+1000, "x") })
	wantCode(t, "SetPassword of an unknown user", err, account.ENOTFOUND)
	err = s.Update(ctx, func(tx account.Tx) error { return tx.SetStatus(ctx, u.ID+1000, account.StatusActive) })
	wantCode(t, "SetStatus of an unknown user", err, account.ENOTFOUND)
	view(t, s, func(tx account.Tx) error {
		got, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if got.PasswordHash != "$argon2id$new" || got.Status != account.StatusDeactivated {
			t.Errorf("after SetPassword and SetStatus: hash %q, status %q", got.PasswordHash, got.Status)
		}
		got, err = tx.UserByID(ctx, other.ID)
		if err != nil {
			return err
		}
		sameUser(t, "untouched user", got, other)
		return nil
	})
}

func testUsersList(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	view(t, s, func(tx account.Tx) error {
		if n, err := tx.CountUsers(ctx); err != nil || n != 0 {
			t.Errorf("CountUsers of an empty store = %d, %v; want 0", n, err)
		}
		us, err := tx.Users(ctx)
		if err != nil || len(us) != 0 {
			t.Errorf("Users of an empty store = %d users, %v; want none", len(us), err)
		}
		return nil
	})
	a := f.org("Project Thanos", account.Retailer)
	b := f.org("Crux Supplier", account.Supplier)
	// Created in an order that differs from the alphabetical one.
	want := []*account.User{
		f.user(b, "zed@cruxsupplier.com"),
		f.user(a, "mrbailey@projectthanos.com"),
		f.user(b, "amy@cruxsupplier.com"),
	}
	view(t, s, func(tx account.Tx) error {
		if n, err := tx.CountUsers(ctx); err != nil || n != len(want) {
			t.Errorf("CountUsers = %d, %v; want %d", n, err, len(want))
		}
		got, err := tx.Users(ctx)
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			t.Fatalf("Users returned %d users, want %d", len(got), len(want))
		}
		for i := range want {
			sameUser(t, "Users", got[i], want[i])
		}
		return nil
	})
}

func testLegacyPasswords(t *testing.T, s account.Store) {
	ctx := context.Background()
	f := newFixture(t, s)
	o := f.org("Crux Supplier", account.Supplier)
	const current = "$argon2id$v=19$m=19456,t=2,p=1$"
	mk := func(email, hash string, created time.Time) *account.User {
		u := f.newUser(o, email)
		u.PasswordHash, u.CreatedAt = hash, created
		update(t, s, func(tx account.Tx) error { return tx.CreateUser(ctx, u) })
		return u
	}
	mk("current@x.example", current+"c2FsdA$aGFzaA", at(-2*time.Hour))
	mk("none@x.example", "", at(-2*time.Hour))
	old := mk("old@x.example", "pbkdf2_sha256$600000$salt$key=", at(-2*time.Hour))
	mk("new@x.example", "$2b$12$abc", at(0))
	inactive := mk("inactive@x.example", "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", at(-2*time.Hour))
	update(t, s, func(tx account.Tx) error { return tx.SetStatus(ctx, inactive.ID, account.StatusDeactivated) })
	// Underscores and percent signs are no wildcards.
	mk("like@x.example", "$argon2id$v=19$m=19456%t=2_p=1$c2FsdA$aGFzaA", at(-2*time.Hour))

	legacy := func() []string {
		var hs []string
		view(t, s, func(tx account.Tx) (err error) { hs, err = tx.LegacyPasswordHashes(ctx, current); return err })
		slices.Sort(hs)
		return hs
	}
	want := []string{"$2b$12$abc", "$argon2id$v=19$m=19456%t=2_p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", "pbkdf2_sha256$600000$salt$key="}
	if got := legacy(); !slices.Equal(got, want) {
		t.Errorf("LegacyPasswordHashes = %q; want %q", got, want)
	}
	var cleared []*account.User
	update(t, s, func(tx account.Tx) (err error) {
		cleared, err = tx.ClearLegacyPasswords(ctx, current, at(-time.Hour))
		return err
	})
	var emails []string
	for _, u := range cleared {
		if u.ID == old.ID && u.Email != old.Email || u.ID == inactive.ID && u.Email != inactive.Email {
			t.Errorf("cleared user %d comes with e-mail %q", u.ID, u.Email)
		}
		emails = append(emails, u.Email)
	}
	if slices.Sort(emails); !slices.Equal(emails, []string{"inactive@x.example", "like@x.example", "old@x.example"}) {
		t.Errorf("ClearLegacyPasswords cleared %q; want the 3 legacy ones created before the cut", emails)
	}
	if got := legacy(); !slices.Equal(got, []string{"$2b$12$abc"}) {
		t.Errorf("after ClearLegacyPasswords: %q left; want only the one created after the cut", got)
	}
	view(t, s, func(tx account.Tx) error {
		u, err := tx.UserByID(ctx, old.ID)
		if err == nil && u.PasswordHash != "" {
			t.Errorf("cleared user's hash %q", u.PasswordHash)
		}
		return err
	})
	err := s.View(ctx, func(tx account.Tx) error {
		_, err := tx.ClearLegacyPasswords(ctx, current, at(0))
		return err
	})
	if err == nil {
		t.Error("ClearLegacyPasswords in a View succeeded")
	}
}
