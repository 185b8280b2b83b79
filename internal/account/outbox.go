package account

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Mail is one message ready to send, handed to a Mailer.
type Mail struct {
	Kind        MailKind
	To          string // the account's normalized address
	FirstName   string
	Token       string        // the clear reset or invitation token (MailReset, MailInvite); held in memory only
	TokenTTL    time.Duration // how long Token lives from now (MailReset, MailInvite)
	OrgName     string        // the recipient's organization (MailInvite only)
	CancelToken string        // the clear token of the "this wasn't me" link (MailReset only): it can only cancel
	At          time.Time     // when the reset was asked for or the password changed
	Meta        Meta          // who asked
	// MessageID is the left part of the mail's Message-ID: the same on
	// every send of one outbox message, so that a receiver can drop the
	// copy a crash made us send twice; unique to the message and the
	// database, and it tells nothing of either.
	MessageID string
}

// Mailer sends one mail (internal/mail). Once the server has accepted the
// mail, Send calls accepted before it ends the session, and returns
// accepted's error; any other error means the server did not accept the
// mail, and the outbox retries it.
type Mailer interface {
	Send(ctx context.Context, m Mail, accepted func() error) error
}

// Outbox worker settings.
const (
	// OutboxLease is how long RunOutbox leases claimed messages by default
	// (Config.MailLease). The worker renews the lease of the messages in
	// hand every third of it, so a message is claimed again only when its
	// worker died or lost the store for that long; then it goes out within
	// seconds.
	OutboxLease = 15 * time.Second
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
// delivers them, a few at once, renewing the lease of those in hand every
// third of lease. Each message is handled on its own: one that fails is
// recorded as MailFailed with its next try, and never holds up the others.
// It returns how many messages were handled (sent, failed, dropped or given
// up) and the store errors met; a message whose outcome could not be
// recorded is claimed again when its lease lapses.
//
// Delivery is at least once: a process that dies between the SMTP
// server's acceptance and the record of it leaves a message that is sent
// again once its lease lapses, with the same Message-ID. The outcome is
// recorded right after the server accepted the mail, before the session
// ends, to keep that window short.
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
	held := newHeldMail(msgs, s.now().Add(lease))
	defer s.renewLeases(ctx, held, lease)()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		n    int
		errs []error
		sem  = make(chan struct{}, mailSendConcurrency)
	)
	for i, m := range msgs {
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil || !s.now().Before(held.until()) {
			// The rest are claimed again once their lease lapses: at
			// once if it lapsed already, when another process may
			// have them.
			held.release(msgs[i:]...)
			break
		}
		wg.Go(func() {
			defer held.release(m)
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

// heldMail is the set of claimed messages a DeliverMail still has in hand,
// and the time their lease runs to.
type heldMail struct {
	mu    sync.Mutex
	ids   map[int64]bool
	lease time.Time
}

func newHeldMail(msgs []*OutboxMessage, until time.Time) *heldMail {
	h := &heldMail{ids: make(map[int64]bool, len(msgs)), lease: until}
	for _, m := range msgs {
		h.ids[m.ID] = true
	}
	return h
}

// release takes messages out of the set: finished, or left to lapse.
func (h *heldMail) release(msgs ...*OutboxMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		delete(h.ids, m.ID)
	}
}

// held returns the ids of the messages in hand.
func (h *heldMail) held() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]int64, 0, len(h.ids))
	for id := range h.ids {
		ids = append(ids, id)
	}
	return ids
}

func (h *heldMail) until() time.Time { h.mu.Lock(); defer h.mu.Unlock(); return h.lease }

func (h *heldMail) renewed(until time.Time) { h.mu.Lock(); h.lease = until; h.mu.Unlock() }

// renewLeases renews the lease of the messages held every third of lease
// until the returned stop is called, so that a short lease covers a send
// however long it takes, and a dead worker's mail is not held for long. A
// renewal that fails is logged; the next one may succeed before the lease
// lapses.
func (s *Service) renewLeases(ctx context.Context, h *heldMail, lease time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(lease/3, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ids := h.held()
			if len(ids) == 0 {
				continue
			}
			until := s.now().Add(lease)
			err := s.store.Update(ctx, func(tx Tx) error { return tx.RenewMailLease(ctx, ids, until) })
			switch {
			case err == nil:
				h.renewed(until)
			case ctx.Err() == nil:
				s.log.Warn("renew mail lease", "messages", len(ids), "err", err)
			}
		}
	}()
	return func() { cancel(); <-done }
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

	var (
		accepted  bool
		recordErr error
	)
	sendErr := mailer.Send(ctx, p.mail, func() error {
		accepted = true
		recordErr = s.recordAttempt(ctx, m, p, nil)
		return recordErr
	})
	if !accepted {
		recordErr = s.recordAttempt(ctx, m, p, sendErr)
	}
	return recordErr
}

// recordAttempt records the outcome of one send of m: sent when sendErr is
// nil, else failed or, past the retry window, given up.
func (s *Service) recordAttempt(ctx context.Context, m *OutboxMessage, p *preparedMail, sendErr error) error {
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
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := tx.RecordMailAttempt(ctx, a); err != nil {
			return fmt.Errorf("record mail attempt: %w", err)
		}
		action := map[MailKind]string{MailReset: AuditResetMailed, MailInvite: AuditInviteMailed}[m.Kind]
		if a.Outcome != MailSent || action == "" {
			return nil
		}
		return tx.AppendAudit(ctx, &AuditEvent{At: now, Action: action, EmailDigest: Digest(p.mail.To),
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
	if m.Kind == MailReset || m.Kind == MailInvite {
		var err error
		if token, err = newResetToken(s.Rand); err != nil {
			return nil, err
		}
	}
	if m.Kind == MailReset {
		var err error
		if cancel, err = newResetToken(s.Rand); err != nil {
			return nil, err
		}
	}
	now := s.now()
	var (
		p   *preparedMail
		key []byte
	)
	err := s.store.Update(ctx, func(tx Tx) error {
		p = &preparedMail{mail: Mail{Kind: m.Kind, To: m.To, At: m.CreatedAt, Meta: m.Meta}}
		u, err := s.mailRecipient(ctx, tx, m)
		if err != nil {
			return err
		}
		switch {
		case u == nil && m.Kind == MailInvite:
			p.drop = "no account awaiting confirmation"
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
		if key, err = s.messageIDKey(ctx, tx); err != nil {
			return err
		}
		p.mail.MessageID = messageID(key, m.ID)
		switch m.Kind {
		case MailReset:
			if err := s.issueResetToken(ctx, tx, token, cancel, u.ID, now); err != nil {
				return err
			}
			p.mail.Token, p.mail.CancelToken = token, cancel
			p.mail.TokenTTL = s.cfg.ResetTTL
		case MailInvite:
			if err := issueInvitation(ctx, tx, token, u.ID, now); err != nil {
				return err
			}
			p.mail.Token, p.mail.TokenTTL, p.mail.OrgName = token, InvitationTTL, u.Org.Name
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if key != nil {
		s.mailIDKey.Store(&key) // committed: every process uses this one
	}
	return p, nil
}

// messageIDKey returns the key of messageID: the one cached once a
// transaction that read it committed, else the store's, which tx creates
// on a new database.
func (s *Service) messageIDKey(ctx context.Context, tx Tx) ([]byte, error) {
	if k := s.mailIDKey.Load(); k != nil {
		return *k, nil
	}
	fresh := make([]byte, sha256.Size)
	if _, err := io.ReadFull(s.Rand, fresh); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	key, err := tx.MailIDKey(ctx, fresh)
	if err != nil {
		return nil, fmt.Errorf("load message id key: %w", err)
	}
	return key, nil
}

// messageID returns the left part of the Message-ID of outbox message id:
// an HMAC of the id under the database's key, so that every send of the
// message carries the same one, no two databases share one, and it tells
// no one the id or how many mails were sent.
func messageID(key []byte, id int64) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(binary.BigEndian.AppendUint64(nil, uint64(id)))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// mailRecipient returns the account a message goes to, or nil when there is
// none to mail: no account uses the address, or (for a reset) it is not
// active, or (for an invitation) it no longer awaits confirmation.
func (s *Service) mailRecipient(ctx context.Context, tx Tx, m *OutboxMessage) (*User, error) {
	if m.Kind != MailReset && m.Kind != MailPasswordChanged && m.Kind != MailInvite {
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
	case m.Kind == MailReset && u.Status != StatusActive, m.Kind == MailInvite && u.Status != StatusWaiting:
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
