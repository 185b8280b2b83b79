package account

import (
	"context"
	"fmt"
	"time"
)

// maxPasswordInput bounds the password a login will hash; longer input
// cannot match any password cruxd ever set.
const maxPasswordInput = 1024

// Session is the result of a successful login.
type Session struct {
	AuthToken string
	User      *User
}

// Login checks a username (the e-mail address) and password and returns a
// new auth token. Unknown user, wrong password and inactive user all return
// the same EUNAUTHORIZED error after the same work, whatever the account's
// hash (failureSpend).
// ETHROTTLED when the IP or the username failed too often; EUNAVAILABLE
// when too many hashes are queued.
func (s *Service) Login(ctx context.Context, username, password string, m Meta) (*Session, error) {
	now := s.now()
	email, emailErr := NormalizeEmail("username", username)
	if emailErr != nil {
		email = username // still counted and verified like any unknown user
	}

	// The attempt is counted as a failure before the hash, in the same
	// transaction that reads the user, so a burst cannot pass the limits
	// together; a success takes the count back.
	var (
		u    *User
		held []*reservation
	)
	run := s.store.View
	if s.limits.loginLimited() {
		run = s.store.Update
	}
	err := run(ctx, func(tx Tx) (err error) {
		u = nil
		if emailErr == nil {
			u, err = tx.UserByEmail(ctx, email)
			if ErrorCode(err) == ENOTFOUND {
				u, err = nil, nil
			} else if err != nil {
				return err
			}
		}
		held, err = s.reserveLogin(ctx, tx, email, u, m, now)
		return err
	})
	if err != nil {
		return nil, s.observeThrottled(storeErr(err))
	}

	var ok, rehash bool
	spend := s.failureSpend(ctx)
	err = s.withHashSlot(ctx, func() error {
		own := ""
		if u != nil && u.PasswordHash != "" && len(password) <= maxPasswordInput {
			own = u.PasswordHash
			var verr error
			ok, rehash, verr = s.hasher.Verify(password, own)
			if verr != nil {
				// A stored hash we cannot parse is a data problem, not the
				// caller's: log it (without the hash) and refuse the login.
				s.log.Error("stored password hash unusable", "user", u.UUID, "err", verr)
			}
		}
		if !ok || u.Status != StatusActive {
			spend(password, own)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !ok || u.Status != StatusActive {
		return nil, s.loginFailed(ctx, email, u, m, now)
	}

	var newHash string
	if rehash {
		// Best effort: a busy server keeps the old hash until next time.
		if h, err := s.hash(ctx, password); err == nil {
			newHash = h
		}
	}
	token, err := newAuthToken(s.Rand)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		for _, r := range held {
			if err := r.release(ctx, tx); err != nil {
				return err
			}
		}
		// Make room first, so that the new token is never the one revoked.
		if err := tx.RevokeAuthTokens(ctx, u.ID, s.cfg.LiveAuthTokens-1, now); err != nil {
			return fmt.Errorf("revoke oldest auth tokens: %w", err)
		}
		at := &AuthToken{Digest: Digest(token), UserID: u.ID, CreatedAt: now, Source: loginSource(m)}
		if err := tx.CreateAuthToken(ctx, at); err != nil {
			return fmt.Errorf("create auth token: %w", err)
		}
		if newHash != "" {
			if err := tx.SetPassword(ctx, u.ID, newHash); err != nil {
				return fmt.Errorf("upgrade password hash: %w", err)
			}
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditLoginOK, EmailDigest: Digest(email),
			UserID: u.ID, IP: m.IP, UserAgent: m.UserAgent})
	})
	if err != nil {
		return nil, storeErr(err)
	}
	s.cfg.Observer.LoginSucceeded()
	return &Session{AuthToken: token, User: u}, nil
}

// loginFailed records a failed login, already counted by reserveLogin, and
// returns the error the caller sees.
func (s *Service) loginFailed(ctx context.Context, email string, u *User, m Meta, now time.Time) error {
	e := &AuditEvent{At: now, Action: AuditLoginFailed, EmailDigest: Digest(email), IP: m.IP, UserAgent: m.UserAgent}
	if u != nil {
		e.UserID = u.ID
	}
	err := s.store.Update(ctx, func(tx Tx) error { return tx.AppendAudit(ctx, e) })
	if err != nil {
		return storeErr(err)
	}
	s.cfg.Observer.LoginFailed()
	return Errorf(EUNAUTHORIZED, MsgBadCredentials)
}

// Authenticate returns the active user holding the auth token, if it is
// neither revoked nor older than AuthTTL; EUNAUTHORIZED otherwise.
func (s *Service) Authenticate(ctx context.Context, token string) (*User, error) {
	if !wellFormedAuthToken(token) {
		return nil, Errorf(EUNAUTHORIZED, MsgInvalidAuthToken)
	}
	var u *User
	err := s.store.View(ctx, func(tx Tx) (err error) {
		u, err = tx.UserByAuthToken(ctx, Digest(token), s.now().Add(-s.cfg.AuthTTL))
		return err
	})
	if ErrorCode(err) == ENOTFOUND || err == nil && u.Status != StatusActive {
		return nil, Errorf(EUNAUTHORIZED, MsgInvalidAuthToken)
	}
	return u, storeErr(err)
}

// UserDetail returns the user with that UUID as seen by viewer. A user may
// read itself; another user of the same organization needs view_org_users
// (EFORBIDDEN); a user of another organization, or none, is ENOTFOUND.
func (s *Service) UserDetail(ctx context.Context, viewer *User, uuid string) (*User, error) {
	if uuid == viewer.UUID {
		return viewer, nil
	}
	var u *User
	err := s.store.View(ctx, func(tx Tx) (err error) {
		u, err = tx.UserByUUID(ctx, uuid)
		return err
	})
	switch {
	case ErrorCode(err) == ENOTFOUND || err == nil && u.OrgID != viewer.OrgID:
		return nil, Errorf(ENOTFOUND, MsgNotFound)
	case err != nil:
		return nil, storeErr(err)
	case !viewer.Can(PermViewOrgUsers):
		return nil, Errorf(EFORBIDDEN, MsgPermissionDenied)
	}
	return u, nil
}

// Logout revokes the auth token; EUNAUTHORIZED if it is not live.
func (s *Service) Logout(ctx context.Context, token string, m Meta) error {
	u, err := s.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		err := tx.RevokeAuthToken(ctx, Digest(token), now)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(EUNAUTHORIZED, MsgInvalidAuthToken) // a concurrent logout won
		} else if err != nil {
			return fmt.Errorf("revoke auth token: %w", err)
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditLogout, EmailDigest: Digest(u.Email),
			UserID: u.ID, IP: m.IP, UserAgent: m.UserAgent})
	})
	return storeErr(err)
}
