package account

import (
	"context"
	"fmt"
	"slices"
)

// DemoUser is one sandbox demo account, printed at start-up. Its UUIDs,
// names, phone and auth token are those of the Crux docs' examples, so that
// the examples' requests work as written against the sandbox.
type DemoUser struct {
	Email     string
	Name      string
	Org       string
	Password  string // "" when the account has no password until it is reset
	AuthToken string // the docs' example auth token seeded for it; "" for none

	uuid, personUUID, first, last, phone string
	perms                                []string // nil: all of the organization type's
}

// demoOrg is a sandbox demo organization.
type demoOrg struct {
	uuid, name string
	typ        OrgType
}

var demoOrgs = []demoOrg{
	{"e7409ece-e923-4aa8-a41b-4aacb9e475be", "Project Thanos", Retailer},
	{"8b0c1a52-7f3e-4d9a-b8a4-2c6f0e5d1b37", "Crux Supplier", Supplier},
}

// DemoUsers are the sandbox demo accounts of docs/api.md. Vera Viewer holds
// only view_org_users, to show the 403 of the calls that need more.
var DemoUsers = []DemoUser{
	{Email: "mrbailey@projectthanos.com", Name: "Matt Bailey", Org: "Project Thanos",
		uuid: "cefc9200-91eb-40dd-8937-d8edaa8f955f", personUUID: "2de10d50-c595-48c3-8cb2-029afd221637",
		first: "Matt", last: "Bailey", phone: "(617)395-2696"},
	{Email: "rbreslawski@cruxsupplier.com", Name: "Roy Breslawski", Org: "Crux Supplier", Password: "thanos_rocks",
		AuthToken: "d9741c2c241b8f9b9955130ca08dbfbd891d9c84",
		uuid:      "52d13dc7-5463-4f90-9e5b-5b8ec97228ff", personUUID: "4b4e8ea4-a3cf-4c63-b34e-e1b9047c1340",
		first: "Roy", last: "Breslawski", perms: []string{PermViewOrgUsers, PermEditOrgUsers}},
	{Email: "jweir@projectthanos.com", Name: "Jason Weir", Org: "Project Thanos", Password: "thanosrocks",
		AuthToken: "a0f17278bed479ee719ea890b8caf0329e1f3e5b",
		uuid:      "3a7acb28-ab13-437e-8c35-46cf4f0bea49", personUUID: "2e0ecb7e-9426-4e66-a8a9-e69cd8c806c0",
		first: "Jason", last: "Weir", phone: "1-722-036-2568x9442"},
	{Email: "vviewer@projectthanos.com", Name: "Vera Viewer", Org: "Project Thanos", Password: "thanosrocks",
		uuid: "5de38a8e-800e-4cba-84c5-ee6c27f304d8", personUUID: "9f1c7e3a-5b2d-4c8e-a6f0-3d7b1e9c2a54",
		first: "Vera", last: "Viewer", perms: []string{PermViewOrgUsers}},
}

// SeedSandbox fills an empty database with the demo data of docs/api.md
// and reports whether it did. A database holding any user is left alone.
// The demo passwords predate the policy, so they are stored as they are.
func (s *Service) SeedSandbox(ctx context.Context) (bool, error) {
	var n int
	if err := s.store.View(ctx, func(tx Tx) (err error) { n, err = tx.CountUsers(ctx); return err }); err != nil {
		return false, storeErr(err)
	}
	if n > 0 {
		return false, nil
	}
	hashes := map[string]string{}
	for _, d := range DemoUsers {
		if d.Password == "" || hashes[d.Password] != "" {
			continue
		}
		h, err := s.hasher.Hash(d.Password)
		if err != nil {
			return false, fmt.Errorf("hash demo password: %w", err)
		}
		hashes[d.Password] = h
	}
	now := s.now()
	seeded := false
	err := s.store.Update(ctx, func(tx Tx) error {
		// Checked again inside the transaction: another process may have
		// seeded since the look above.
		if n, err := tx.CountUsers(ctx); err != nil || n > 0 {
			return err
		}
		orgs := map[string]*Organization{}
		for _, d := range demoOrgs {
			o := &Organization{UUID: d.uuid, Name: d.name, Type: d.typ, CreatedAt: now}
			if err := tx.CreateOrganization(ctx, o); err != nil {
				return fmt.Errorf("create demo organization: %w", err)
			}
			orgs[o.Name] = o
		}
		for _, d := range DemoUsers {
			u := &User{UUID: d.uuid, PersonUUID: d.personUUID, Email: d.Email, FirstName: d.first, LastName: d.last,
				Phone: d.phone, Status: StatusActive, PasswordHash: hashes[d.Password],
				Permissions: slices.Clone(d.perms), CreatedAt: now}
			if err := u.joinOrg(orgs[d.Org]); err != nil {
				return err
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return fmt.Errorf("create demo user: %w", err)
			}
			if d.AuthToken == "" {
				continue
			}
			if err := tx.CreateAuthToken(ctx, &AuthToken{Digest: Digest(d.AuthToken), UserID: u.ID, CreatedAt: now}); err != nil {
				return fmt.Errorf("create demo auth token: %w", err)
			}
		}
		seeded = true
		return nil
	})
	return seeded, storeErr(err)
}
