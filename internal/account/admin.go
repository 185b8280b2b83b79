package account

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// NewUser describes an account to create.
type NewUser struct {
	OrgName   string
	Email     string
	FirstName string
	LastName  string
	Phone     string
	JobTitle  string
	Status    Status   // default ACTIVE
	Password  string   // checked against the policy; "" leaves none set
	Hash      string   // an existing hash to keep (import, demo data); wins over Password
	Perms     []string // default: every permission of the organization's type
	By        Meta     // who asked, for the audit trail
}

// CreateOrganization adds an organization; EINVALID for an empty name or an
// unknown type, ECONFLICT if the name is taken. The audit trail records it.
func (s *Service) CreateOrganization(ctx context.Context, name string, typ OrgType, by ...Meta) (*Organization, error) {
	o, err := s.newOrganization(name, typ)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.CreateOrganization(ctx, o); err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, "", 0, firstMeta(by), fmt.Sprintf("organization %q (%s) created", o.Name, o.Type))
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return o, nil
}

// newOrganization checks an organization's fields and returns it unsaved.
func (s *Service) newOrganization(name string, typ OrgType) (*Organization, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, FieldError(EINVALID, "name", MsgFieldRequired)
	}
	if !typ.Valid() {
		return nil, FieldError(EINVALID, "type", fmt.Sprintf("%q is not a valid choice.", typ))
	}
	return &Organization{Name: name, Type: typ, UUID: s.newUUID(), CreatedAt: s.now()}, nil
}

// CreateUser adds a user to an existing organization; EINVALID for bad
// fields or a refused password, ENOTFOUND for an unknown organization,
// ECONFLICT if the e-mail address is taken. The audit trail records it.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (*User, error) {
	u, err := s.newUser(ctx, nu)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		o, err := tx.OrganizationByName(ctx, strings.TrimSpace(nu.OrgName))
		if ErrorCode(err) == ENOTFOUND {
			return FieldError(ENOTFOUND, "org", fmt.Sprintf("No organization is named %q.", nu.OrgName))
		} else if err != nil {
			return fmt.Errorf("find organization: %w", err)
		}
		if err := u.joinOrg(o); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		return s.auditAdmin(ctx, tx, u.Email, u.ID, nu.By, fmt.Sprintf("user created in organization %q", o.Name))
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return u, nil
}

// newUser checks nu, hashes its password if it has one, and returns the
// user unsaved, without its organization.
func (s *Service) newUser(ctx context.Context, nu NewUser) (*User, error) {
	email, err := NormalizeEmail("email", nu.Email)
	if err != nil {
		return nil, err
	}
	if nu.Status == "" {
		nu.Status = StatusActive
	}
	if !nu.Status.Valid() {
		return nil, FieldError(EINVALID, "status", fmt.Sprintf("%q is not a valid choice.", nu.Status))
	}
	for _, p := range nu.Perms {
		if _, ok := PermissionByName(p); !ok {
			return nil, FieldError(EINVALID, "permissions", fmt.Sprintf("%q is not a known permission.", p))
		}
	}
	hash := nu.Hash
	if hash == "" && nu.Password != "" {
		if hash, err = s.hashNew(ctx, nu.Password, email); err != nil {
			return nil, err
		}
	}
	u := &User{
		UUID: s.newUUID(), PersonUUID: s.newUUID(), Email: email,
		FirstName: strings.TrimSpace(nu.FirstName), LastName: strings.TrimSpace(nu.LastName),
		Phone: nu.Phone, JobTitle: nu.JobTitle, Status: nu.Status, PasswordHash: hash,
		Permissions: nu.Perms, CreatedAt: s.now(),
	}
	return u, nil
}

// joinOrg puts the unsaved user u into o. A user without permissions gets
// every permission of o's type; a permission o's type may not hold is
// EINVALID.
func (u *User) joinOrg(o *Organization) error {
	u.OrgID, u.Org = o.ID, o
	if u.Permissions == nil {
		for _, p := range PermissionsFor(o.Type) {
			u.Permissions = append(u.Permissions, p.Name)
		}
		return nil
	}
	for _, name := range u.Permissions {
		if p, _ := PermissionByName(name); !p.Allows(o.Type) {
			return FieldError(EINVALID, "permissions", fmt.Sprintf("A %s organization cannot hold %q.", o.Type, name))
		}
	}
	return nil
}

// newUUID returns a random (version 4) UUID from s.Rand.
func (s *Service) newUUID() string {
	id, err := uuid.NewRandomFromReader(s.Rand)
	if err != nil {
		// crypto/rand does not fail on Linux; a broken test reader is a bug.
		panic(fmt.Sprintf("cruxd: read random for uuid: %v", err))
	}
	return id.String()
}
