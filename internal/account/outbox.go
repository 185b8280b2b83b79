package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Mail is one message ready to send, handed to a Mailer.
type Mail struct {
	Kind        MailKind
	To          string // the account's normalized address
	FirstName   string
	Token       string        // the clear reset token (MailReset only); held in memory only
	TokenTTL    time.Duration // how long Token lives from now (MailReset only)
	CancelToken string        // the clear token of the "this wasn't me" link (MailReset only): it can only cancel
	At          time.Time     // when the reset was asked for or the password changed
	Meta        Meta          // who asked
}

// Mailer sends one mail (internal/mail). An error means it was not accepted
// by the server; the outbox retries it.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Outbox worker settings.
const (
	// OutboxLease is how long RunOutbox leases claimed messages by default
	// (Config.MailLease): longer
	// than mailHandleTimeout, so that a message is claimed again only when
	// its worker died.
	OutboxLease = 5 * time.Minute
	// OutboxBatch is how many messages RunOutbox claims at a time.
	OutboxBatch = 16
	// mailHandleTimeout bounds the handling of one message once started.
	mailHandleTimeout = 2 * time.Minute
	// mailSendConcurrency is how many messages are sent at once.
	mailSendConcurrency = 4
	// maxAttemptError bounds the error text kept with an attempt.
	maxAttemptError = 500
)

// DeliverMail claims up to batch due outbox messages, leased for lease, and
// delivers them, a few at once. Each message is handled on its own: one
// that fails is recorded as MailFailed with its next try, and never holds
// up the others. It returns how many messages were handled (sent, failed,
// dropped or given up) and the store errors met; a message whose outcome
// could not be recorded is claimed again when its lease lapses.
//
// Once ctx is done no further message is started; messages already started
// are finished, so that an SMTP server never gets a mail whose outcome is
// then forgotten.
//
// The reset mail is written to the outbox in the same transaction that
// records the request; its token is minted in the same transaction that
// records the delivery attempt. So no request is lost while SMTP is away,
// and the database only ever holds the token's digest: the clear token
// lives in memory between that transaction and the SMTP server. A retry
// mints a fresh token; the older ones fall to the newest-LiveResetTokens
// rule.
func (s *Service) DeliverMail(ctx context.Context, mailer Mailer, lease time.Duration, batch int) (int, error) {
	msgs, err := s.store.ClaimMail(ctx, s.now(), lease, batch)
	if err != nil {
		return 0, storeErr(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		n    int
		errs []error
		sem  = make(chan struct{}, mailSendConcurrency)
	)
	for _, m := range msgs {
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil {
			break // the rest are claimed again once their lease lapses
		}
		wg.Go(func() {
			defer func() { <-sem }()
			mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mailHandleTimeout)
			defer cancel()
			err := s.deliver(mctx, mailer, m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("outbox message %d: %w", m.ID, err))
			} else {
				n++
			}
		})
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// RunOutbox delivers outbox mail until ctx is done: it claims what is due,
// then waits for poll or for a newly queued mail. It returns once ctx is
// done and the messages in hand are finished.
func (s *Service) RunOutbox(ctx context.Context, mailer Mailer, poll time.Duration) {
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for ctx.Err() == nil {
		n, err := s.DeliverMail(ctx, mailer, s.cfg.MailLease, OutboxBatch)
		if err != nil && ctx.Err() == nil {
			s.log.Error("outbox delivery", "err", err)
		}
		if n == OutboxBatch && err == nil {
			continue // more may be due
		}
		timer.Reset(poll)
		select {
		case <-ctx.Done():
		case <-s.mailQueued:
		case <-timer.C:
		}
	}
}

// mailWasQueued wakes RunOutbox after a transaction that queued mail
// committed, so the mail leaves right after the response. It never blocks.
func (s *Service) mailWasQueued() {
	select {
	case s.mailQueued <- struct{}{}:
	default:
	}
}

// deliver prepares, sends and records one claimed message. It returns an
// error only when the store failed.
func (s *Service) deliver(ctx context.Context, mailer Mailer, m *OutboxMessage) error {
	p, err := s.prepareMail(ctx, m)
	if err != nil {
		return err
	}
	if p.drop != "" {
		s.log.Info("mail dropped", "id", m.ID, "kind", m.Kind, "reason", p.drop)
		s.cfg.Observer.MailDelivered(m.Kind, MailDropped)
		return nil
	}

	sendErr := mailer.Send(ctx, p.mail)
	now := s.now()
	a := &MailAttempt{MessageID: m.ID, At: now, Outcome: MailSent}
	if sendErr != nil {
		a.Error = truncate(sendErr.Error(), maxAttemptError)
		if now.Sub(m.CreatedAt) < s.cfg.MailRetryFor {
			a.Outcome, a.NextAt = MailFailed, now.Add(s.retryDelay(m.Attempts))
		} else {
			a.Outcome = MailGaveUp
		}
	}
	if a.Outcome != MailFailed {
		a.AddrDigest = Digest(m.To)
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.RecordMailAttempt(ctx, a); err != nil {
			return fmt.Errorf("record mail attempt: %w", err)
		}
		if a.Outcome != MailSent || m.Kind != MailReset {
			return nil
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: AuditResetMailed, EmailDigest: Digest(p.mail.To),
			UserID: p.userID, IP: m.Meta.IP, UserAgent: m.Meta.UserAgent, Detail: fmt.Sprintf("outbox message %d", m.ID)})
	})
	if err != nil {
		return storeErr(err)
	}
	s.cfg.Observer.MailDelivered(m.Kind, a.Outcome)
	attempt := m.Attempts + 1
	switch a.Outcome {
	case MailSent:
		s.log.Info("mail sent", "id", m.ID, "kind", m.Kind, "attempt", attempt)
	case MailFailed:
		s.log.Warn("mail failed", "id", m.ID, "kind", m.Kind, "attempt", attempt, "next", a.NextAt, "err", a.Error)
	case MailGaveUp:
		s.log.Error("mail gave up", "id", m.ID, "kind", m.Kind, "attempt", attempt, "err", a.Error)
	}
	return nil
}

// preparedMail is a message ready to send, or the reason it is dropped.
type preparedMail struct {
	mail   Mail
	userID int64
	drop   string // why nothing is sent; the drop is already recorded
}

// prepareMail resolves the message's account and, for a reset, applies the
// per-address limit and mints the token, in one transaction. A message with
// nothing to send is recorded as MailDropped in that transaction.
func (s *Service) prepareMail(ctx context.Context, m *OutboxMessage) (*preparedMail, error) {
	var token, cancel string
	if m.Kind == MailReset {
		var err error
		if token, err = newResetToken(s.Rand); err != nil {
			return nil, err
		}
		if cancel, err = newResetToken(s.Rand); err != nil {
			return nil, err
		}
	}
	now := s.now()
	var p *preparedMail
	err := s.store.Update(ctx, func(tx Tx) error {
		p = &preparedMail{mail: Mail{Kind: m.Kind, To: m.To, At: m.CreatedAt, Meta: m.Meta}}
		u, err := s.mailRecipient(ctx, tx, m)
		if err != nil {
			return err
		}
		switch {
		case u == nil:
			p.drop = "no active account"
		case m.Kind == MailReset && m.Attempts == 0:
			over, err := s.overResetMailLimit(ctx, tx, u.Email, now)
			if err != nil {
				return err
			}
			if over {
				p.drop = "reset mail limit of the address reached"
			}
		}
		if p.drop != "" {
			return tx.RecordMailAttempt(ctx, &MailAttempt{MessageID: m.ID, At: now, Outcome: MailDropped, Error: p.drop,
				AddrDigest: Digest(m.To)})
		}
		p.userID, p.mail.To, p.mail.FirstName = u.ID, u.Email, u.FirstName
		if m.Kind == MailReset {
			if err := s.issueResetToken(ctx, tx, token, cancel, u.ID, now); err != nil {
				return err
			}
			p.mail.Token, p.mail.CancelToken = token, cancel
			p.mail.TokenTTL = s.cfg.ResetTTL
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return p, nil
}

// mailRecipient returns the account a message goes to, or nil when there is
// none to mail: no account uses the address, or (for a reset) it is not
// active.
func (s *Service) mailRecipient(ctx context.Context, tx Tx, m *OutboxMessage) (*User, error) {
	if m.Kind != MailReset && m.Kind != MailPasswordChanged {
		return nil, Errorf(EINVALID, "unknown mail kind %q", m.Kind)
	}
	var (
		u   *User
		err error
	)
	if m.UserID != 0 {
		u, err = tx.UserByID(ctx, m.UserID)
	} else {
		u, err = tx.UserByEmail(ctx, m.To)
	}
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("find mail recipient: %w", err)
	case m.Kind == MailReset && u.Status != StatusActive:
		return nil, nil
	}
	return u, nil
}

// overResetMailLimit counts one reset mail to email against its limit and
// reports whether the limit was already full. Only a message's first
// attempt counts, so that retries after an SMTP failure do not eat the
// budget.
func (s *Service) overResetMailLimit(ctx context.Context, tx Tx, email string, now time.Time) (bool, error) {
	_, err := reserve(ctx, tx, s.limits.resetMails, now, email)
	if ErrorCode(err) == ETHROTTLED {
		return true, nil
	}
	return false, err
}

// retryDelay is the wait before the next try of a message that failed
// attempts+1 times: MailRetryMin doubled per earlier attempt, at most
// MailRetryMax.
func (s *Service) retryDelay(attempts int) time.Duration {
	d := s.cfg.MailRetryMin
	for i := 0; i < attempts && d < s.cfg.MailRetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.MailRetryMax)
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
