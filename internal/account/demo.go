package account

import (
	"context"
	"fmt"
)

// DemoAccount is a demo account as the database holds it.
type DemoAccount struct {
	DemoUser
	// PasswordKept reports whether the account still has the demo
	// password DemoUser.Password; false for an account without one.
	PasswordKept bool
	// HasPassword reports whether the account has any password.
	HasPassword bool
}

// DemoAccounts returns the demo accounts (DemoUsers) the database holds,
// in DemoUsers' order: none for a database that was never seeded.
func (s *Service) DemoAccounts(ctx context.Context) ([]DemoAccount, error) {
	var found []DemoAccount
	var hashes []string
	err := s.store.View(ctx, func(tx Tx) error {
		for _, d := range DemoUsers {
			u, err := tx.UserByEmail(ctx, d.Email)
			if ErrorCode(err) == ENOTFOUND {
				continue
			}
			if err != nil {
				return err
			}
			found = append(found, DemoAccount{DemoUser: d, HasPassword: u.PasswordHash != ""})
			hashes = append(hashes, u.PasswordHash)
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	for i := range found {
		if found[i].Password == "" || hashes[i] == "" {
			continue
		}
		ok, _, err := s.hasher.Verify(found[i].Password, hashes[i])
		if err != nil {
			return nil, fmt.Errorf("verify demo password: %w", err)
		}
		found[i].PasswordKept = ok
	}
	return found, nil
}
