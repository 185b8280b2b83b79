package account

import (
	"context"
	"fmt"
	"time"
)

// MsgNoSuchUser is the error of an admin action on an unknown address.
const MsgNoSuchUser = "No user uses this e-mail address."

// ListUsers returns every user with its organization, oldest first.
func (s *Service) ListUsers(ctx context.Context) ([]*User, error) {
	var us []*User
	err := s.store.View(ctx, func(tx Tx) (err error) {
		us, err = tx.Users(ctx)
		return err
	})
	return us, storeErr(err)
}

// DeactivateUser sets the account of email DEACTIVATED and revokes its auth
// and reset tokens, in one transaction recorded in the audit trail.
// EINVALID for a malformed address, ENOTFOUND if no account uses it. Unlike
// the API, an administrator may deactivate an organization's last editor.
func (s *Service) DeactivateUser(ctx context.Context, email string, by Meta) error {
	return s.adminSetStatus(ctx, email, by, s.deactivate)
}

// ReactivateUser sets the DEACTIVATED account of email ACTIVE again, in a
// transaction recorded in the audit trail; its revoked tokens stay revoked.
// EINVALID for a malformed address, ENOTFOUND if no account uses it,
// ECONFLICT for an account still waiting for its invitation.
func (s *Service) ReactivateUser(ctx context.Context, email string, by Meta) error {
	return s.adminSetStatus(ctx, email, by, s.reactivate)
}

// adminSetStatus runs change on the account of email for an administrator
// and records what it did.
func (s *Service) adminSetStatus(ctx context.Context, email string, by Meta, change func(context.Context, Tx, *User) (string, error)) error {
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.UserByEmail(ctx, email)
		if ErrorCode(err) == ENOTFOUND {
			return FieldError(ENOTFOUND, "email", MsgNoSuchUser)
		} else if err != nil {
			return fmt.Errorf("find user: %w", err)
		}
		what, err := change(ctx, tx, u)
		if err != nil || what == "" {
			return err
		}
		return s.auditAdmin(ctx, tx, email, u.ID, by, what)
	})
	return storeErr(err)
}

// IssueResetToken returns a new reset token for the active account of email
// and when it expires, whatever the mode: it is for an administrator, who
// hands the link over. EINVALID for a malformed address; EUNPROCESSABLE when
// no active account uses it.
func (s *Service) IssueResetToken(ctx context.Context, email string, by Meta) (token string, expires time.Time, err error) {
	email, err = NormalizeEmail("email", email)
	if err != nil {
		return "", time.Time{}, err
	}
	token, err = newResetToken(s.Rand)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	err = s.issueReset(ctx, &ResetIssue{Email: email, Token: s.newResetToken(token, "", 0, now),
		Audit: &AuditEvent{At: now, Action: AuditResetRequested, EmailDigest: Digest(email),
			IP: by.IP, UserAgent: by.UserAgent, Detail: "reset link issued by an administrator"}}, nil)
	if err != nil {
		return "", time.Time{}, storeErr(err)
	}
	return token, now.Add(s.cfg.ResetTTL), nil
}
