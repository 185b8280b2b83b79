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
// EINVALID for a malformed address, ENOTFOUND if no account uses it.
func (s *Service) DeactivateUser(ctx context.Context, email string, by Meta) error {
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.UserByEmail(ctx, email)
		if ErrorCode(err) == ENOTFOUND {
			return FieldError(ENOTFOUND, "email", MsgNoSuchUser)
		} else if err != nil {
			return fmt.Errorf("find user: %w", err)
		}
		if err := tx.SetStatus(ctx, u.ID, StatusDeactivated); err != nil {
			return fmt.Errorf("deactivate: %w", err)
		}
		if err := tx.RevokeAuthTokens(ctx, u.ID, 0, now); err != nil {
			return fmt.Errorf("revoke auth tokens: %w", err)
		}
		n, err := tx.RevokeResetTokens(ctx, u.ID, 0, now)
		if err != nil {
			return fmt.Errorf("revoke reset tokens: %w", err)
		}
		if _, err := tx.RevokeInvitations(ctx, u.ID, 0, now); err != nil {
			return fmt.Errorf("revoke invitations: %w", err)
		}
		return s.auditAdmin(ctx, tx, email, u.ID, by,
			fmt.Sprintf("user deactivated (was %s); auth tokens and %d live reset tokens revoked", u.Status, n))
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
