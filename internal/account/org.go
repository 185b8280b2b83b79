package account

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// OrgUsersPageSize is how many users a page of OrgUsers holds.
const OrgUsersPageSize = 100

// MsgInvalidPage is the error of a page number past the last page, as DRF
// words it.
const MsgInvalidPage = "Invalid page."

// MsgLastUserEditor refuses a change that would leave an organization
// without an active user holding edit_org_users, who alone could undo it.
const MsgLastUserEditor = "The organization must keep an active user holding edit_org_users."

// maxNamedUUIDs is how many unknown permission uuids an error names.
const maxNamedUUIDs = 5

// OrgUsers returns page (from 1) of the users of viewer's organization,
// oldest first, OrgUsersPageSize a page, and whether another page follows:
// one store query. EFORBIDDEN without view_org_users; ENOTFOUND for a page
// below 1 or past the last (the first page always exists: it holds the
// viewer).
func (s *Service) OrgUsers(ctx context.Context, viewer *User, page int) ([]*User, bool, error) {
	if !viewer.Can(PermViewOrgUsers) {
		return nil, false, Errorf(EFORBIDDEN, MsgPermissionDenied)
	}
	if page < 1 {
		return nil, false, Errorf(ENOTFOUND, MsgInvalidPage)
	}
	var us []*User
	err := s.store.View(ctx, func(tx Tx) (err error) {
		// One more than a page tells whether another follows.
		us, err = tx.OrgUsers(ctx, viewer.OrgID, (page-1)*OrgUsersPageSize, OrgUsersPageSize+1)
		return err
	})
	if err != nil {
		return nil, false, storeErr(err)
	}
	if len(us) == 0 && page > 1 {
		return nil, false, Errorf(ENOTFOUND, MsgInvalidPage)
	}
	more := len(us) > OrgUsersPageSize
	if more {
		us = us[:OrgUsersPageSize]
	}
	return us, more, nil
}

// OrgPermissions returns the permissions viewer's organization type may
// hold; EFORBIDDEN without view_org_users, as the Crux docs require.
func (s *Service) OrgPermissions(viewer *User) ([]Permission, error) {
	if !viewer.Can(PermViewOrgUsers) {
		return nil, Errorf(EFORBIDDEN, MsgPermissionDenied)
	}
	return PermissionsFor(viewer.Org.Type), nil
}

// ChangePermissions grants (or, if grant is false, removes) the permissions
// of uuids to the user with userUUID, for actor, in one transaction
// recorded in the audit trail, and returns the user as it is then. Like
// UserDetail, a user of another organization, or none, is ENOTFOUND; then
// actor needs edit_org_users (EFORBIDDEN). A uuid that is no permission of
// the organization's type is EINVALID, naming it. Removing edit_org_users
// from the last active user holding it is ECONFLICT. Granting what the user
// holds, or removing what it lacks, changes nothing.
func (s *Service) ChangePermissions(ctx context.Context, actor *User, userUUID string, uuids []string, grant bool, by Meta) (*User, error) {
	var names, bad []string
	for _, id := range uuids {
		p, ok := PermissionByUUID(actor.Org.Type, id)
		switch {
		case ok:
			names = append(names, p.Name)
		case len(bad) == maxNamedUUIDs:
			bad = append(bad, "…")
		case len(bad) < maxNamedUUIDs:
			// Bounded, so that a hostile list is not echoed at length.
			if len(id) > 40 {
				id = id[:40] + "…"
			}
			bad = append(bad, fmt.Sprintf("%q", id))
		}
	}
	if len(bad) > 0 {
		return nil, FieldError(EINVALID, "permission_uuids", fmt.Sprintf("Not a permission of a %s organization: %s.",
			actor.Org.Type, strings.Join(bad, ", ")))
	}
	return s.changeOrgUser(ctx, actor, userUUID, by, func(ctx context.Context, tx Tx, u *User) (string, error) {
		perms := changed(actor.Org.Type, u.Permissions, names, grant)
		if slices.Equal(perms, u.Permissions) {
			return "", nil
		}
		if u.Can(PermEditOrgUsers) && !slices.Contains(perms, PermEditOrgUsers) {
			if err := s.keepsEditor(ctx, tx, u); err != nil {
				return "", err
			}
		}
		if err := tx.SetPermissions(ctx, u.ID, perms); err != nil {
			return "", fmt.Errorf("set permissions: %w", err)
		}
		verb := "removed"
		if grant {
			verb = "granted"
		}
		what := fmt.Sprintf("permissions %s: %s", verb, strings.Join(diff(u.Permissions, perms), ", "))
		u.Permissions = perms
		return what, nil
	})
}

// changed returns held with names added (grant) or removed, in the
// catalogue's order of typ.
func changed(typ OrgType, held, names []string, grant bool) []string {
	var out []string
	for _, p := range PermissionsFor(typ) {
		has := slices.Contains(held, p.Name)
		if named := slices.Contains(names, p.Name); named {
			has = grant
		}
		if has {
			out = append(out, p.Name)
		}
	}
	return out
}

// diff returns the names in exactly one of a and b.
func diff(a, b []string) []string {
	var out []string
	for _, n := range a {
		if !slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	for _, n := range b {
		if !slices.Contains(a, n) {
			out = append(out, n)
		}
	}
	return out
}

// keepsEditor returns ECONFLICT unless an active user of u's organization
// other than u holds edit_org_users.
func (s *Service) keepsEditor(ctx context.Context, tx Tx, u *User) error {
	if u.Status != StatusActive {
		return nil // u does not count as an editor
	}
	ok, err := tx.HasActiveHolder(ctx, u.OrgID, PermEditOrgUsers, u.ID)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(ECONFLICT, MsgLastUserEditor)
	}
	return nil
}

// SetOrgUserStatus deactivates (active false) or reactivates the user with
// userUUID for actor, with the rules of ChangePermissions' lookup and
// edit_org_users. A deactivated user's auth and reset tokens are revoked in
// the same transaction; deactivating the last active holder of
// edit_org_users is ECONFLICT. Only a DEACTIVATED user can be reactivated:
// one still waiting for its invitation is ECONFLICT. Setting the status a
// user has changes nothing.
func (s *Service) SetOrgUserStatus(ctx context.Context, actor *User, userUUID string, active bool, by Meta) (*User, error) {
	return s.changeOrgUser(ctx, actor, userUUID, by, func(ctx context.Context, tx Tx, u *User) (string, error) {
		if active {
			return s.reactivate(ctx, tx, u)
		}
		if u.Can(PermEditOrgUsers) {
			if err := s.keepsEditor(ctx, tx, u); err != nil {
				return "", err
			}
		}
		return s.deactivate(ctx, tx, u)
	})
}

// changeOrgUser runs change on the user with userUUID in a transaction that
// holds actor's organization, after the lookup and permission rules of
// ChangePermissions, and records what change reports it did ("" for
// nothing) in the audit trail: who, whom and what.
func (s *Service) changeOrgUser(ctx context.Context, actor *User, userUUID string, by Meta, change func(context.Context, Tx, *User) (string, error)) (*User, error) {
	var u *User
	err := s.store.Update(ctx, func(tx Tx) (err error) {
		if err := tx.LockOrganization(ctx, actor.OrgID); err != nil {
			return fmt.Errorf("lock organization: %w", err)
		}
		u, err = tx.UserByUUID(ctx, userUUID)
		switch {
		case ErrorCode(err) == ENOTFOUND || err == nil && u.OrgID != actor.OrgID:
			return Errorf(ENOTFOUND, MsgNotFound)
		case err != nil:
			return fmt.Errorf("find user: %w", err)
		case !actor.Can(PermEditOrgUsers):
			return Errorf(EFORBIDDEN, MsgPermissionDenied)
		}
		what, err := change(ctx, tx, u)
		if err != nil || what == "" {
			return err
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: s.now(), Action: AuditOrgUser, EmailDigest: Digest(u.Email),
			UserID: u.ID, IP: by.IP, UserAgent: by.UserAgent, Detail: fmt.Sprintf("by user %s: %s", actor.UUID, what)})
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return u, nil
}

// deactivate sets u DEACTIVATED and revokes its auth and reset tokens and
// invitations, in tx, and says what it did for the audit trail. The tokens are revoked
// even if u was already DEACTIVATED, so the call is safe to repeat.
func (s *Service) deactivate(ctx context.Context, tx Tx, u *User) (string, error) {
	now := s.now()
	if err := tx.SetStatus(ctx, u.ID, StatusDeactivated); err != nil {
		return "", fmt.Errorf("deactivate: %w", err)
	}
	if err := tx.RevokeAuthTokens(ctx, u.ID, 0, now); err != nil {
		return "", fmt.Errorf("revoke auth tokens: %w", err)
	}
	n, err := tx.RevokeResetTokens(ctx, u.ID, 0, now)
	if err != nil {
		return "", fmt.Errorf("revoke reset tokens: %w", err)
	}
	if _, err := tx.RevokeInvitations(ctx, u.ID, 0, now); err != nil {
		return "", fmt.Errorf("revoke invitations: %w", err)
	}
	what := fmt.Sprintf("user deactivated (was %s); auth tokens and %d live reset tokens revoked", u.Status, n)
	u.Status = StatusDeactivated
	return what, nil
}

// reactivate sets a DEACTIVATED u ACTIVE in tx and says what it did; an
// ACTIVE u is left alone, and one waiting for its invitation is ECONFLICT:
// it becomes active by accepting it.
func (s *Service) reactivate(ctx context.Context, tx Tx, u *User) (string, error) {
	switch u.Status {
	case StatusActive:
		return "", nil
	case StatusWaiting:
		return "", Errorf(ECONFLICT, MsgNotAccepted)
	}
	if err := tx.SetStatus(ctx, u.ID, StatusActive); err != nil {
		return "", fmt.Errorf("reactivate: %w", err)
	}
	u.Status = StatusActive
	return "user reactivated", nil
}

// MsgNotAccepted refuses to reactivate a user who never accepted the
// invitation.
const MsgNotAccepted = "The user has not accepted the invitation yet."
