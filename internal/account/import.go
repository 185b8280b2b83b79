package account

import (
	"context"
	"fmt"
	"strings"
)

// HashChecker is implemented by a PasswordHasher that can tell, without a
// password, whether a stored hash is in a format it verifies
// (internal/password). Import uses it when the hasher has it.
type HashChecker interface {
	CheckHash(encoded string) error
}

// ImportRecord is an existing account brought over with its password hash.
type ImportRecord struct {
	Email        string
	FirstName    string
	LastName     string
	Organization string
	OrgType      OrgType // required when the organization does not exist yet
	PasswordHash string  // Django pbkdf2_sha256, bcrypt $2a$/$2b$/$2y$ or argon2id PHC
	Status       Status  // default ACTIVE
}

// ImportUser creates the account of rec with its existing hash, and its
// organization if no organization has that name. It reports created=false
// and changes nothing when an account already uses the address, so an
// import may be run again. EINVALID (with the field) for a malformed
// address, status, organization type or hash, or an organization of another
// type than rec says. The first successful login replaces a legacy hash with
// an argon2id one.
func (s *Service) ImportUser(ctx context.Context, rec ImportRecord, by Meta) (created bool, err error) {
	if strings.TrimSpace(rec.PasswordHash) == "" {
		return false, FieldError(EINVALID, "password_hash", MsgFieldRequired)
	}
	if err := s.checkHash(ctx, rec.PasswordHash); err != nil {
		return false, FieldError(EINVALID, "password_hash", "Not a supported password hash: "+err.Error()+".")
	}
	u, err := s.newUser(ctx, NewUser{OrgName: rec.Organization, Email: rec.Email, FirstName: rec.FirstName,
		LastName: rec.LastName, Status: rec.Status, Hash: rec.PasswordHash})
	if err != nil {
		return false, err
	}
	newOrg, orgErr := s.newOrganization(rec.Organization, rec.OrgType)
	if orgErr != nil && strings.TrimSpace(rec.Organization) == "" {
		return false, FieldError(EINVALID, "organization", MsgFieldRequired)
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		created = false
		if _, err := tx.UserByEmail(ctx, u.Email); err == nil {
			return nil // already there: left as it is
		} else if ErrorCode(err) != ENOTFOUND {
			return fmt.Errorf("find user: %w", err)
		}
		o, err := tx.OrganizationByName(ctx, strings.TrimSpace(rec.Organization))
		switch {
		case ErrorCode(err) == ENOTFOUND:
			if orgErr != nil {
				return FieldError(EINVALID, "org_type", fmt.Sprintf("%q is not a valid choice.", rec.OrgType))
			}
			o = newOrg
			if err := tx.CreateOrganization(ctx, o); err != nil {
				return fmt.Errorf("create organization: %w", err)
			}
			if err := s.auditAdmin(ctx, tx, "", 0, by, fmt.Sprintf("organization %q (%s) created by import", o.Name, o.Type)); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("find organization: %w", err)
		case rec.OrgType != "" && o.Type != rec.OrgType:
			return FieldError(EINVALID, "org_type", fmt.Sprintf("Organization %q is a %s, not a %s.", o.Name, o.Type, rec.OrgType))
		}
		if err := u.joinOrg(o); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		created = true
		return s.auditAdmin(ctx, tx, u.Email, u.ID, by, fmt.Sprintf("user imported into organization %q", o.Name))
	})
	if err != nil {
		return false, storeErr(err)
	}
	return created, nil
}

// checkHash returns why a stored hash could never be verified, or nil.
func (s *Service) checkHash(ctx context.Context, encoded string) error {
	if c, ok := s.hasher.(HashChecker); ok {
		return c.CheckHash(encoded)
	}
	// Without a checker, a verification with an empty password tells a
	// malformed hash (an error) from a usable one (a mismatch).
	var verr error
	err := s.withHashSlot(ctx, func() error {
		_, _, verr = s.hasher.Verify("", encoded)
		return nil
	})
	if err != nil {
		return err
	}
	return verr
}
