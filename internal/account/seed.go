package account

import (
	"context"
	"fmt"
)

// DemoUser is one sandbox demo account, printed at start-up.
type DemoUser struct {
	Email    string
	Name     string
	Org      string
	Password string // "" when the account has no password until it is reset
}

// DemoUsers are the sandbox demo accounts of API.md.
var DemoUsers = []DemoUser{
	{Email: "mrbailey@projectthanos.com", Name: "Mr Bailey", Org: "Project Thanos"},
	{Email: "rbreslawski@cruxsupplier.com", Name: "Roy Breslawski", Org: "Crux Supplier", Password: "thanos_rocks"},
}

// SeedSandbox fills an empty database with the demo data of API.md and
// reports whether it did. A database holding any user is left alone. The
// demo password predates the policy, so it is stored as it is.
func (s *Service) SeedSandbox(ctx context.Context) (bool, error) {
	var n int
	if err := s.store.View(ctx, func(tx Tx) (err error) { n, err = tx.CountUsers(ctx); return err }); err != nil {
		return false, storeErr(err)
	}
	if n > 0 {
		return false, nil
	}
	hash, err := s.hasher.Hash(DemoUsers[1].Password)
	if err != nil {
		return false, fmt.Errorf("hash demo password: %w", err)
	}
	now := s.now()
	orgs := []*Organization{
		{UUID: s.newUUID(), Name: "Project Thanos", Type: Retailer, CreatedAt: now},
		{UUID: s.newUUID(), Name: "Crux Supplier", Type: Supplier, CreatedAt: now},
	}
	users := []*User{
		{Email: DemoUsers[0].Email, FirstName: "Mr", LastName: "Bailey"},
		{Email: DemoUsers[1].Email, FirstName: "Roy", LastName: "Breslawski", PasswordHash: hash},
	}
	seeded := false
	err = s.store.Update(ctx, func(tx Tx) error {
		// Checked again inside the transaction: another process may have
		// seeded since the look above.
		if n, err := tx.CountUsers(ctx); err != nil || n > 0 {
			return err
		}
		for i, o := range orgs {
			if err := tx.CreateOrganization(ctx, o); err != nil {
				return fmt.Errorf("create demo organization: %w", err)
			}
			u := users[i]
			u.UUID, u.PersonUUID, u.OrgID, u.Org = s.newUUID(), s.newUUID(), o.ID, o
			u.Status, u.Permissions, u.CreatedAt = StatusActive, []string{PermViewOrgUsers, PermEditOrgUsers}, now
			if err := tx.CreateUser(ctx, u); err != nil {
				return fmt.Errorf("create demo user: %w", err)
			}
		}
		seeded = true
		return nil
	})
	return seeded, storeErr(err)
}
