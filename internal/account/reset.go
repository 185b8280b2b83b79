package account

import (
	"context"
	"fmt"
	"time"
)

// RequestReset starts a password reset for email.
//
// In sandbox it resolves the account at once and returns the new reset token
// (EUNPROCESSABLE on the "email" field when no active account uses the
// address). In production it returns "" and does the same constant work for
// every address: it records the request in the outbox, and the outbox worker
// resolves the account, applies the per-address limit and mails the link.
// ETHROTTLED when the caller's IP made too many calls.
func (s *Service) RequestReset(ctx context.Context, rawEmail string, m Meta) (string, error) {
	email, err := NormalizeEmail("email", rawEmail)
	if err != nil {
		return "", err
	}
	now := s.now()
	ipLimit := func(ctx context.Context, tx Tx) error {
		_, err := reserve(ctx, tx, s.limits.resetCalls, now, m.client())
		return err
	}
	audit := &AuditEvent{At: now, Action: AuditResetRequested, EmailDigest: Digest(email), IP: m.IP, UserAgent: m.UserAgent}

	if s.cfg.Mode == Production {
		err := s.store.Update(ctx, func(tx Tx) error {
			if err := ipLimit(ctx, tx); err != nil {
				return err
			}
			if err := tx.EnqueueMail(ctx, &OutboxMessage{Kind: MailReset, To: email, Meta: m, CreatedAt: now}); err != nil {
				return fmt.Errorf("enqueue reset mail: %w", err)
			}
			return tx.AppendAudit(ctx, audit)
		})
		if err != nil {
			return "", s.observeThrottled(storeErr(err))
		}
		s.cfg.Observer.ResetRequested()
		s.mailWasQueued()
		return "", nil
	}

	token, err := newResetToken(s.Rand)
	if err != nil {
		return "", err
	}
	r := &ResetIssue{Email: email, Token: s.newResetToken(token, "", 0, now), Audit: audit}
	if s.cfg.Mail {
		r.Mail = &OutboxMessage{Kind: MailReset, To: email, Meta: m, CreatedAt: now}
	}
	var before func(context.Context, Tx) error
	if s.limits.resetCalls.Max > 0 {
		before = ipLimit
	}
	err = s.issueReset(ctx, r, before)
	if err != nil {
		return "", s.observeThrottled(storeErr(err))
	}
	s.cfg.Observer.ResetRequested()
	if s.cfg.Mail {
		s.mailWasQueued()
	}
	return token, nil
}

// activeUserByEmail returns the id of the ACTIVE user with that
// (normalized) address; noActiveAccount when there is none.
func activeUserByEmail(ctx context.Context, users Users, email string) (int64, error) {
	u, err := users.UserByEmail(ctx, email)
	if ErrorCode(err) == ENOTFOUND || err == nil && u.Status != StatusActive {
		return 0, noActiveAccount()
	} else if err != nil {
		return 0, fmt.Errorf("find user: %w", err)
	}
	return u.ID, nil
}

// noActiveAccount is the answer of sandbox's Reset Password and of the
// admin's reset link for an address no ACTIVE account uses.
func noActiveAccount() error { return FieldError(EUNPROCESSABLE, "email", MsgNoActiveAccount) }

// issueReset stores r, a reset token for the ACTIVE account of r.Email,
// with its mail and audit event; noActiveAccount when no active account
// uses the address. before, when not nil, runs first in the write
// transaction (a limit's reservation). A OneTripStore runs the lookup and
// the writes in one round trip, unless before needs a Tx.
func (s *Service) issueReset(ctx context.Context, r *ResetIssue, before func(context.Context, Tx) error) error {
	r.Status, r.Keep = StatusActive, s.cfg.LiveResetTokens
	if o, ok := s.store.(OneTripStore); ok && before == nil {
		err := o.IssueResetToken(ctx, r)
		if ErrorCode(err) == ENOTFOUND {
			return noActiveAccount()
		}
		return err
	}
	// The account is found on a read connection, before the write: every
	// Update waits for the one writer, which then only writes (docs/perf.md).
	// A deactivation that commits in between leaves this token to an
	// account that is no longer active, which Validate and Create New
	// Password refuse, as they refuse every token of such an account.
	var userID int64
	lookupErr := s.store.View(ctx, func(tx Tx) (err error) {
		userID, err = activeUserByEmail(ctx, tx, r.Email)
		return err
	})
	if lookupErr != nil {
		if ErrorCode(lookupErr) == EUNPROCESSABLE && before != nil {
			// The client's limit still answers first, as when one
			// transaction held both: the reservation is rolled back with
			// the error.
			return s.store.Update(ctx, func(tx Tx) error {
				if err := before(ctx, tx); err != nil {
					return err
				}
				return lookupErr
			})
		}
		return lookupErr
	}
	r.Token.UserID = userID
	return s.store.Update(ctx, func(tx Tx) error {
		if before != nil {
			if err := before(ctx, tx); err != nil {
				return err
			}
		}
		if err := s.saveResetToken(ctx, tx, r.Token); err != nil {
			return err
		}
		if r.Mail != nil {
			r.Mail.UserID = userID
			if err := tx.EnqueueMail(ctx, r.Mail); err != nil {
				return fmt.Errorf("enqueue reset mail: %w", err)
			}
		}
		r.Audit.UserID = userID
		return tx.AppendAudit(ctx, r.Audit)
	})
}

// issueResetToken stores token's digest for the user, with the digest of
// cancel, the token of the mail's "this wasn't me" link ("" when no mail
// carries the token), and retires the oldest live tokens beyond
// LiveResetTokens. The caller draws both with newResetToken before its
// transaction.
func (s *Service) issueResetToken(ctx context.Context, tx Tx, token, cancel string, userID int64, now time.Time) error {
	return s.saveResetToken(ctx, tx, s.newResetToken(token, cancel, userID, now))
}

// newResetToken returns the row of a reset token issued at now, its
// digests computed: callers make it before their transaction.
func (s *Service) newResetToken(token, cancel string, userID int64, now time.Time) *ResetToken {
	t := &ResetToken{Digest: Digest(token), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ResetTTL)}
	if cancel != "" {
		t.CancelDigest = Digest(cancel)
	}
	return t
}

// saveResetToken stores t and retires the user's oldest live tokens beyond
// LiveResetTokens.
func (s *Service) saveResetToken(ctx context.Context, tx Tx, t *ResetToken) error {
	if err := tx.CreateResetToken(ctx, t); err != nil {
		return fmt.Errorf("create reset token: %w", err)
	}
	if _, err := tx.RevokeResetTokens(ctx, t.UserID, s.cfg.LiveResetTokens, t.CreatedAt); err != nil {
		return fmt.Errorf("retire old reset tokens: %w", err)
	}
	return nil
}

// ValidateReset returns the e-mail address of the account the live reset
// token belongs to, without spending it; ENOTFOUND if it is not live.
func (s *Service) ValidateReset(ctx context.Context, token string) (string, error) {
	if !wellFormedResetToken(token) {
		return "", Errorf(ENOTFOUND, MsgInvalidToken)
	}
	_, u, err := s.viewLiveTokenUser(ctx, token)
	if err != nil {
		return "", err
	}
	return u.Email, nil
}

// viewLiveTokenUser returns a live token and the active user owning it, in
// one round trip on a OneTripStore.
func (s *Service) viewLiveTokenUser(ctx context.Context, token string) (t *ResetToken, u *User, err error) {
	if o, ok := s.store.(OneTripStore); ok {
		t, u, err = o.LiveResetTokenUser(ctx, Digest(token), s.now())
		t, u, err = liveOwner(t, u, err)
		return t, u, storeErr(err)
	}
	err = s.store.View(ctx, func(tx Tx) (err error) {
		t, u, err = s.liveTokenUser(ctx, tx, token)
		return err
	})
	return t, u, storeErr(err)
}

// liveTokenUser returns a live token and the active user owning it.
func (s *Service) liveTokenUser(ctx context.Context, tx Tx, token string) (*ResetToken, *User, error) {
	t, err := tx.LiveResetToken(ctx, Digest(token), s.now())
	if err != nil {
		return liveOwner(nil, nil, err)
	}
	u, err := tx.UserByID(ctx, t.UserID)
	if err != nil {
		return nil, nil, fmt.Errorf("find token's user: %w", err)
	}
	return liveOwner(t, u, nil)
}

// liveOwner applies the rule of a live token's owner to a token lookup's
// result: only an ACTIVE account may use it.
func liveOwner(t *ResetToken, u *User, err error) (*ResetToken, *User, error) {
	if ErrorCode(err) == ENOTFOUND || err == nil && u.Status != StatusActive {
		return nil, nil, Errorf(ENOTFOUND, MsgInvalidToken)
	} else if err != nil {
		return nil, nil, fmt.Errorf("find reset token: %w", err)
	}
	return t, u, nil
}

// CompleteReset sets a new password with a live reset token. In one
// transaction it spends the token, replaces the password, revokes the
// account's other reset tokens and every auth token, clears its login
// throttle and queues a "password changed" mail. ENOTFOUND if the token is
// not live (of concurrent calls with one token exactly one wins); EINVALID
// on the "password" field, with the token left live, if the policy refuses
// the password.
func (s *Service) CompleteReset(ctx context.Context, token, password string, m Meta) error {
	if !wellFormedResetToken(token) {
		return Errorf(ENOTFOUND, MsgInvalidToken)
	}
	unlock := s.tokenLocks.lock(token)
	defer unlock()

	live, u, err := s.viewLiveTokenUser(ctx, token)
	if err != nil {
		return err
	}
	hash, err := s.hashNew(ctx, password, u.Email)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.store.Update(ctx, func(tx Tx) error {
		t, err := tx.ConsumeResetToken(ctx, live.Digest, now)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, MsgInvalidToken)
		} else if err != nil {
			return fmt.Errorf("consume reset token: %w", err)
		}
		if err := s.setPassword(ctx, tx, t.UserID, hash, now); err != nil {
			return err
		}
		if err := s.clearLoginLimits(ctx, tx, u.Email, m); err != nil {
			return err
		}
		msg := &OutboxMessage{Kind: MailPasswordChanged, To: u.Email, UserID: t.UserID, Meta: m, CreatedAt: now}
		if s.cfg.Mail {
			if err := tx.EnqueueMail(ctx, msg); err != nil {
				return fmt.Errorf("enqueue password-changed mail: %w", err)
			}
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditResetCompleted, EmailDigest: Digest(u.Email),
			UserID: t.UserID, IP: m.IP, UserAgent: m.UserAgent})
	})
	if err != nil {
		return storeErr(err)
	}
	s.cfg.Observer.ResetCompleted()
	if s.cfg.Mail {
		s.mailWasQueued()
	}
	return nil
}

// setPassword replaces a user's password hash and retires every credential
// derived from the old one.
func (s *Service) setPassword(ctx context.Context, tx Tx, userID int64, hash string, now time.Time) error {
	if err := tx.SetPassword(ctx, userID, hash); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if _, err := tx.RevokeResetTokens(ctx, userID, 0, now); err != nil {
		return fmt.Errorf("revoke reset tokens: %w", err)
	}
	if err := tx.RevokeAuthTokens(ctx, userID, 0, now); err != nil {
		return fmt.Errorf("revoke auth tokens: %w", err)
	}
	return nil
}

// RevokeReset is the "this wasn't me" action of the reset mail: given the
// cancel token of that link, it revokes every live reset token of the
// account whose live reset token the mail carried. A reset token cannot
// cancel, as a cancel token cannot reset. ENOTFOUND if the cancel token's
// reset token is not live.
func (s *Service) RevokeReset(ctx context.Context, cancel string, m Meta) error {
	if !wellFormedResetToken(cancel) {
		return Errorf(ENOTFOUND, MsgInvalidToken)
	}
	now := s.now()
	err := s.store.Update(ctx, func(tx Tx) error {
		t, err := tx.LiveResetTokenByCancel(ctx, Digest(cancel), now)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, MsgInvalidToken)
		} else if err != nil {
			return fmt.Errorf("find reset token by cancel token: %w", err)
		}
		u, err := tx.UserByID(ctx, t.UserID)
		if err != nil {
			return fmt.Errorf("find token's user: %w", err)
		}
		if u.Status != StatusActive {
			return Errorf(ENOTFOUND, MsgInvalidToken)
		}
		if _, err := tx.RevokeResetTokens(ctx, u.ID, 0, now); err != nil {
			return fmt.Errorf("revoke reset tokens: %w", err)
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditResetRevoked, EmailDigest: Digest(u.Email),
			UserID: u.ID, IP: m.IP, UserAgent: m.UserAgent})
	})
	return storeErr(err)
}
