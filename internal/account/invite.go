package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// InvitationTTL is how long an invitation link lives, as the Crux docs
// state. An expired link is not lost: opening it sends a fresh invitation
// (ValidateInvite), so a short life costs the invited person one more mail,
// never the account.
const InvitationTTL = 2 * time.Hour

// liveInvitations is how many live invitations a user keeps: a newer one
// retires the oldest. More than one, because a mail that a crash made us
// send twice carries another token than the copy the reader kept.
const liveInvitations = 3

// maxNameLen bounds a first or last name, as Django's user model does.
const maxNameLen = 150

// Messages of the invitation calls.
const (
	MsgInvitationRenewed = "This invitation has expired. A new invitation was issued to the invited address."
	msgNameTooLong       = "Ensure this field has no more than 150 characters."
)

// Invitation is an invitation token at rest: only its SHA-256 digest. The
// token lets its holder choose the password of a user awaiting
// confirmation, which makes the user ACTIVE.
type Invitation struct {
	ID        int64
	Digest    []byte
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
	// RenewedAt is when the expired invitation was replaced by a fresh
	// one: it is renewed once at most.
	RenewedAt *time.Time
}

// NewInvite describes an invitation.
type NewInvite struct {
	Email     string
	FirstName string
	LastName  string
	// PermissionUUIDs are the permissions the new user gets, by catalogue
	// UUID, each one of the organization's type; none when empty.
	PermissionUUIDs []string
	// PermissionNames are more permissions, by name (the CLI's form).
	PermissionNames []string
	// By is the inviting user, who needs edit_org_users; the new user
	// joins its organization. Nil for an administrator (the CLI), who
	// names the organization in OrgName.
	By      *User
	OrgName string
	// ByMail sends the token only by mail, as production does, whatever
	// the Service's mode: for an administrator on a production database.
	ByMail bool
	Meta   Meta // who asked, for the audit trail
}

// Invited is the outcome of Invite.
type Invited struct {
	User *User
	// Token is the clear invitation token: set in sandbox, "" in
	// production, where it travels only by mail.
	Token string
	// Mailed says an invitation mail was queued.
	Mailed bool
	// Again says the address already had an account awaiting
	// confirmation in the organization: it was invited again, unchanged.
	Again bool
}

// Invite creates a user awaiting confirmation (CONFIRMATION WAITING) in the
// inviter's organization and issues its invitation, in one transaction
// recorded in the audit trail. In sandbox the token is returned; in
// production (or with ByMail), and in sandbox when mail is on, an
// invitation mail is queued in the same transaction, and the outbox mints
// the token it carries.
//
// An address whose account awaits confirmation in the same organization is
// invited again (Invited.Again): that is how an invitation is sent anew.
// Any other address in use is EINVALID on the "email" field, with the same
// message whichever organization holds it. EFORBIDDEN when the inviter
// lacks edit_org_users; EINVALID for bad fields or a permission the
// organization's type does not have (the message names it); ENOTFOUND
// for an unknown OrgName.
func (s *Service) Invite(ctx context.Context, in NewInvite) (*Invited, error) {
	if in.By != nil && !in.By.Can(PermEditOrgUsers) {
		return nil, Errorf(EFORBIDDEN, MsgPermissionDenied)
	}
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return nil, err
	}
	first, err := personName("first_name", in.FirstName)
	if err != nil {
		return nil, err
	}
	last, err := personName("last_name", in.LastName)
	if err != nil {
		return nil, err
	}
	byMail := s.cfg.Mode == Production || in.ByMail
	var token string
	if !byMail {
		if token, err = newResetToken(s.Rand); err != nil {
			return nil, err
		}
	}
	mail := byMail || s.cfg.Mail
	now := s.now()
	out := &Invited{Token: token, Mailed: mail}
	err = s.store.Update(ctx, func(tx Tx) error {
		org, err := s.inviteOrg(ctx, tx, in)
		if err != nil {
			return err
		}
		perms, err := invitePermissions(org.Type, in.PermissionUUIDs, in.PermissionNames)
		if err != nil {
			return err
		}
		u, again, err := s.invitee(ctx, tx, org, email, first, last, perms, in.Meta, now)
		if err != nil {
			return err
		}
		out.User, out.Again = u, again
		if token != "" {
			if err := issueInvitation(ctx, tx, token, u.ID, now); err != nil {
				return err
			}
		}
		if mail {
			if err := tx.EnqueueMail(ctx, &OutboxMessage{Kind: MailInvite, To: email, UserID: u.ID, Meta: in.Meta, CreatedAt: now}); err != nil {
				return fmt.Errorf("enqueue invitation mail: %w", err)
			}
		}
		by := "an administrator"
		if in.By != nil {
			by = "user " + in.By.UUID
		}
		verb := "invited"
		if again {
			verb = "invited again"
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditInvited, EmailDigest: Digest(email), UserID: u.ID,
			IP: in.Meta.IP, UserAgent: in.Meta.UserAgent,
			Detail: fmt.Sprintf("user %s %s to organization %s by %s with permissions [%s]",
				u.UUID, verb, org.UUID, by, strings.Join(u.Permissions, ","))})
	})
	if isEmailTaken(err) {
		s.auditRefusedInvite(ctx, in, email, now)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if mail {
		s.mailWasQueued()
	}
	return out, nil
}

// inviteOrg returns the organization an invitation is into: the inviter's,
// or the one the administrator named.
func (s *Service) inviteOrg(ctx context.Context, tx Tx, in NewInvite) (*Organization, error) {
	if in.By != nil {
		return in.By.Org, nil
	}
	o, err := tx.OrganizationByName(ctx, strings.TrimSpace(in.OrgName))
	if ErrorCode(err) == ENOTFOUND {
		return nil, FieldError(ENOTFOUND, "org", fmt.Sprintf("No organization is named %q.", in.OrgName))
	} else if err != nil {
		return nil, fmt.Errorf("find organization: %w", err)
	}
	return o, nil
}

// invitee creates the invited user, or returns the one of that address
// awaiting confirmation in org (again true). An address in use otherwise
// is refused.
func (s *Service) invitee(ctx context.Context, tx Tx, org *Organization, email, first, last string, perms []string, m Meta, now time.Time) (u *User, again bool, err error) {
	u, err = tx.UserByEmail(ctx, email)
	switch {
	case err == nil && u.OrgID == org.ID && u.Status == StatusWaiting:
		return u, true, nil
	case err == nil:
		return nil, false, emailTaken()
	case ErrorCode(err) != ENOTFOUND:
		return nil, false, fmt.Errorf("find user: %w", err)
	}
	u = &User{
		UUID: s.newUUID(), PersonUUID: s.newUUID(), OrgID: org.ID, Org: org, Email: email,
		FirstName: first, LastName: last, Status: StatusWaiting, Permissions: perms, CreatedAt: now,
	}
	err = tx.CreateUser(ctx, u)
	if ErrorCode(err) == ECONFLICT {
		return nil, false, emailTaken() // created meanwhile
	} else if err != nil {
		return nil, false, fmt.Errorf("create invited user: %w", err)
	}
	return u, false, nil
}

// emailTaken is the refusal of an address in use. It says the same
// whichever organization holds the address: the address is the login name,
// unique across cruxd, so the refusal cannot be avoided, but it tells
// nothing more than that.
func emailTaken() error { return FieldError(EINVALID, "email", MsgUserAlreadyExists) }

func isEmailTaken(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == EINVALID && e.Field == "email" && e.Message == MsgUserAlreadyExists
}

// auditRefusedInvite records an invitation refused because the address is
// in use: who asked about which address shows in the trail, since each
// refusal tells its caller that the address has an account.
func (s *Service) auditRefusedInvite(ctx context.Context, in NewInvite, email string, now time.Time) {
	by := "an administrator"
	if in.By != nil {
		by = "user " + in.By.UUID
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditInviteRefused, EmailDigest: Digest(email),
			IP: in.Meta.IP, UserAgent: in.Meta.UserAgent, Detail: "invitation by " + by + " refused: the address is in use"})
	})
	if err != nil {
		s.log.Warn("audit refused invitation", "err", err)
	}
}

// personName trims a first or last name and checks it; EINVALID on field
// when it is empty, too long or holds control characters.
func personName(field, raw string) (string, error) {
	name := strings.TrimSpace(raw)
	switch {
	case name == "":
		return "", FieldError(EINVALID, field, MsgFieldRequired)
	case utf8.RuneCountInString(name) > maxNameLen:
		return "", FieldError(EINVALID, field, msgNameTooLong)
	case !utf8.ValidString(name) || strings.IndexFunc(name, notPrintable) >= 0:
		return "", FieldError(EINVALID, field, "Enter a valid name.")
	}
	return name, nil
}

// invitePermissions returns the names of the permissions given by UUID and
// by name, in catalogue order without repeats; EINVALID naming the first
// that the organization type t does not have.
func invitePermissions(t OrgType, uuids, names []string) ([]string, error) {
	var out []string
	for _, id := range uuids {
		p, ok := PermissionByUUID(t, id)
		if !ok {
			return nil, FieldError(EINVALID, "permission_uuids",
				fmt.Sprintf("%q is not a permission of a %s organization.", truncateName(id), t))
		}
		out = append(out, p.Name)
	}
	for _, n := range names {
		if p, ok := PermissionByName(n); !ok || !p.Allows(t) {
			return nil, FieldError(EINVALID, "permissions",
				fmt.Sprintf("%q is not a permission of a %s organization.", truncateName(n), t))
		}
		out = append(out, n)
	}
	var ordered []string
	for _, p := range PermissionsFor(t) {
		if slices.Contains(out, p.Name) {
			ordered = append(ordered, p.Name)
		}
	}
	return ordered, nil
}

// truncateName bounds a caller's string echoed in a message.
func truncateName(s string) string { return truncate(s, 64) }

// issueInvitation stores token's digest for the user and retires the
// oldest live invitations beyond liveInvitations. The caller draws token
// with newResetToken before its transaction.
func issueInvitation(ctx context.Context, tx Tx, token string, userID int64, now time.Time) error {
	i := &Invitation{Digest: Digest(token), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	if err := tx.CreateInvitation(ctx, i); err != nil {
		return fmt.Errorf("create invitation: %w", err)
	}
	if _, err := tx.RevokeInvitations(ctx, userID, liveInvitations, now); err != nil {
		return fmt.Errorf("retire old invitations: %w", err)
	}
	return nil
}

// InviteCheck is what ValidateInvite found.
type InviteCheck struct {
	Email string
	// Renewed says the invitation had expired: a fresh one was issued,
	// now or by an earlier call with the same token.
	Renewed bool
	// Token is the fresh invitation token when this call issued it in
	// sandbox; "" otherwise (production mails it).
	Token string
}

// ValidateInvite checks an invitation token without spending it. A live
// token answers its address. An expired one, of a user still awaiting
// confirmation, is renewed: a fresh invitation is issued (and mailed in
// production, or when mail is on) the first time, and every later call
// with that token answers Renewed without issuing more, so one link cannot
// send a stream of mails. ENOTFOUND for an unknown, used or revoked token,
// or a user no longer awaiting confirmation.
func (s *Service) ValidateInvite(ctx context.Context, token string, m Meta) (*InviteCheck, error) {
	if !wellFormedResetToken(token) {
		return nil, Errorf(ENOTFOUND, MsgInvalidToken)
	}
	var (
		inv *Invitation
		u   *User
	)
	err := s.store.View(ctx, func(tx Tx) (err error) {
		inv, u, err = invitationUser(ctx, tx, token)
		return err
	})
	if err != nil {
		return nil, storeErr(err)
	}
	now := s.now()
	if now.Before(inv.ExpiresAt) {
		return &InviteCheck{Email: u.Email}, nil
	}
	out := &InviteCheck{Email: u.Email, Renewed: true}
	if inv.RenewedAt != nil {
		return out, nil
	}
	var fresh string
	if s.cfg.Mode != Production {
		if fresh, err = newResetToken(s.Rand); err != nil {
			return nil, err
		}
	}
	mail := s.cfg.Mode == Production || s.cfg.Mail
	err = s.store.Update(ctx, func(tx Tx) error {
		out.Token = ""
		if _, u, err = invitationUser(ctx, tx, token); err != nil {
			return err
		}
		_, err := tx.RenewInvitation(ctx, inv.Digest, now)
		if ErrorCode(err) == ENOTFOUND {
			return nil // a concurrent call renewed it
		} else if err != nil {
			return fmt.Errorf("renew invitation: %w", err)
		}
		if fresh != "" {
			if err := issueInvitation(ctx, tx, fresh, u.ID, now); err != nil {
				return err
			}
			out.Token = fresh
		}
		if mail {
			if err := tx.EnqueueMail(ctx, &OutboxMessage{Kind: MailInvite, To: u.Email, UserID: u.ID, Meta: m, CreatedAt: now}); err != nil {
				return fmt.Errorf("enqueue invitation mail: %w", err)
			}
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditInviteRenewed, EmailDigest: Digest(u.Email),
			UserID: u.ID, IP: m.IP, UserAgent: m.UserAgent, Detail: "expired invitation opened: a fresh one was issued"})
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if mail {
		s.mailWasQueued()
	}
	return out, nil
}

// invitationUser returns the invitation of token, live or expired, and
// its user, if it was neither used nor revoked and the user still awaits
// confirmation; ENOTFOUND otherwise.
func invitationUser(ctx context.Context, tx Tx, token string) (*Invitation, *User, error) {
	inv, err := tx.InvitationByDigest(ctx, Digest(token))
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil, Errorf(ENOTFOUND, MsgInvalidToken)
	} else if err != nil {
		return nil, nil, fmt.Errorf("find invitation: %w", err)
	}
	if inv.UsedAt != nil || inv.RevokedAt != nil {
		return nil, nil, Errorf(ENOTFOUND, MsgInvalidToken)
	}
	u, err := tx.UserByID(ctx, inv.UserID)
	if err != nil {
		return nil, nil, fmt.Errorf("find invitation's user: %w", err)
	}
	if u.Status != StatusWaiting {
		return nil, nil, Errorf(ENOTFOUND, MsgInvalidToken)
	}
	return inv, u, nil
}

// AcceptInvite sets the password of the user a live invitation token
// belongs to, under the password policy, and makes the user ACTIVE: in one
// transaction it spends the token, sets the password, retires the user's
// other invitations and records it in the audit trail. Then the user can
// log in. ENOTFOUND if the token is not live (expired included: opening the
// link renews it, see ValidateInvite); of concurrent calls with one token
// exactly one wins. EINVALID on the "password" field, with the token left
// live, if the policy refuses the password.
func (s *Service) AcceptInvite(ctx context.Context, token, password string, m Meta) error {
	if !wellFormedResetToken(token) {
		return Errorf(ENOTFOUND, MsgInvalidToken)
	}
	unlock := s.tokenLocks.lock(token)
	defer unlock()
	var u *User
	err := s.store.View(ctx, func(tx Tx) error {
		inv, user, err := invitationUser(ctx, tx, token)
		if err == nil && !s.now().Before(inv.ExpiresAt) {
			err = Errorf(ENOTFOUND, MsgInvalidToken)
		}
		u = user
		return err
	})
	if err != nil {
		return storeErr(err)
	}
	hash, err := s.hashNew(ctx, password, u.Email)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		inv, err := tx.ConsumeInvitation(ctx, Digest(token), now)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, MsgInvalidToken)
		} else if err != nil {
			return fmt.Errorf("consume invitation: %w", err)
		}
		cur, err := tx.UserByID(ctx, inv.UserID)
		if err != nil {
			return fmt.Errorf("find invitation's user: %w", err)
		}
		if cur.Status != StatusWaiting {
			return Errorf(ENOTFOUND, MsgInvalidToken)
		}
		if err := s.setPassword(ctx, tx, cur.ID, hash, now); err != nil {
			return err
		}
		if err := tx.SetStatus(ctx, cur.ID, StatusActive); err != nil {
			return fmt.Errorf("activate: %w", err)
		}
		if _, err := tx.RevokeInvitations(ctx, cur.ID, 0, now); err != nil {
			return fmt.Errorf("retire invitations: %w", err)
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditInviteAccepted, EmailDigest: Digest(cur.Email),
			UserID: cur.ID, IP: m.IP, UserAgent: m.UserAgent, Detail: "invitation accepted: password set, user ACTIVE"})
	})
	return storeErr(err)
}
