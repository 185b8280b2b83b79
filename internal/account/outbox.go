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
// mail, Send calls accepted before it sends anything else over that
// connection, and returns accepted's error; any other error means the
// server did not accept the mail, and the outbox retries it.
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
	// OutboxBatch is how many messages RunOutbox claims, and prepares in
	// one transaction, at a time.
	OutboxBatch = 32
	// DefaultMailSenders is how many mails the worker handles at once by
	// default (Config.MailSenders).
	DefaultMailSenders = 8
	// recordBatch bounds the outcomes recorded in one transaction, so
	// that the worker never holds the store's writer for long.
	recordBatch = 32
	// recordLinger is how long the recorder waits for more outcomes
	// after the first one, so that a steady flow of mail shares its
	// transactions (docs/perf.md); it widens the window in which a
	// crash sends a mail twice by as much.
	recordLinger = 5 * time.Millisecond
	// mailHandleTimeout bounds the handling of one message once started.
	mailHandleTimeout = 2 * time.Minute
	// maxAttemptError bounds the error text kept with an attempt.
	maxAttemptError = 500
)

// DeliverMail claims up to batch due outbox messages, leased for lease,
// delivers them through Config.MailSenders senders, and returns once all
// are handled. RunOutbox does the same without end; see it for the
// delivery semantics. It returns how many messages were handled (sent,
// failed, dropped or given up) and the store errors met; a message whose
// outcome could not be recorded is claimed again when its lease lapses.
func (s *Service) DeliverMail(ctx context.Context, mailer Mailer, lease time.Duration, batch int) (int, error) {
	r := s.startOutbox(ctx, mailer, lease)
	if _, err := r.feed(ctx, batch); err != nil {
		r.fail(err)
	}
	return r.finish()
}

// RunOutbox delivers outbox mail until ctx is done: it claims what is due,
// a batch at a time, and prepares each batch in one transaction; several
// senders (Config.MailSenders) send the mails, each keeping its SMTP
// connection for the next; their outcomes are recorded several to a
// transaction as they come. When nothing more is due it waits for poll or
// for a newly queued mail. It returns once ctx is done and the messages
// in hand are finished.
//
// Delivery is at least once: a process that dies between the SMTP
// server's acceptance and the record of it leaves a message that is sent
// again once its lease lapses, with the same Message-ID. The outcome is
// handed to the recorder as soon as the server accepted the mail, before
// its sender sends anything else, to keep that window short. The lease of
// every message in hand is renewed every third of lease, so no other
// process claims a message while it is being sent.
//
// Each message is handled on its own: one that fails is recorded as
// MailFailed with its next try, and never holds up the others. Once ctx is
// done no further message is started; messages already started are
// finished and their outcomes recorded, so that an SMTP server never gets
// a mail whose outcome is then forgotten.
//
// The reset mail is written to the outbox in the same transaction that
// records the request; its token is minted in the transaction that
// prepares the message for sending. So no request is lost while SMTP is
// away, and the database only ever holds the token's digest: the clear
// token lives in memory between that transaction and the SMTP server. A
// retry mints a fresh token; the older ones fall to the
// newest-LiveResetTokens rule.
func (s *Service) RunOutbox(ctx context.Context, mailer Mailer, poll time.Duration) {
	r := s.startOutbox(ctx, mailer, s.cfg.MailLease)
	r.logErrs = true
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for ctx.Err() == nil {
		n, err := r.feed(ctx, OutboxBatch)
		if err != nil {
			r.fail(err)
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
	r.finish()
}

// outboxRun is one run of the outbox worker: feed claims and prepares
// messages into ready; senders send them and hand each outcome to the
// recorder, which records them several to a transaction.
type outboxRun struct {
	s       *Service
	ctx     context.Context // the run's: once done, no message is started
	mailer  Mailer
	lease   time.Duration
	held    *heldMail
	ready   chan *preparedMail // prepared, waiting for a sender
	sent    chan *mailOutcome  // sent or failed, waiting for the recorder
	senders sync.WaitGroup
	records chan struct{} // closed when the recorder returned
	renewal func()        // stops the lease renewal
	logErrs bool          // log errors as they come instead of keeping them

	mu   sync.Mutex
	n    int
	errs []error
}

// mailOutcome is the result of one send: accepted when err is nil.
type mailOutcome struct {
	p   *preparedMail
	err error
}

func (s *Service) startOutbox(ctx context.Context, mailer Mailer, lease time.Duration) *outboxRun {
	senders := s.cfg.MailSenders
	r := &outboxRun{
		s: s, ctx: ctx, mailer: mailer, lease: lease,
		held: newHeldMail(),
		// A batch waits in ready while the next one is claimed and
		// prepared, so that the senders never wait for the store.
		ready:   make(chan *preparedMail, OutboxBatch),
		sent:    make(chan *mailOutcome, recordBatch),
		records: make(chan struct{}),
	}
	r.renewal = s.renewLeases(ctx, r.held, lease)
	for range senders {
		r.senders.Go(r.sender)
	}
	go r.recorder()
	return r
}

// finish waits until every message started is sent and its outcome
// recorded, then stops the lease renewal. It returns how many messages
// were handled and the errors kept.
func (r *outboxRun) finish() (int, error) {
	close(r.ready)
	r.senders.Wait()
	close(r.sent)
	<-r.records
	r.renewal()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, errors.Join(r.errs...)
}

// fail logs err or keeps it for finish.
func (r *outboxRun) fail(err error) {
	if r.logErrs {
		if r.ctx.Err() == nil {
			r.s.log.Error("outbox delivery", "err", err)
		}
		return
	}
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *outboxRun) handled(k int) { r.mu.Lock(); r.n += k; r.mu.Unlock() }

// feed claims up to batch due messages, prepares them and hands those to
// send to the senders, waiting for a free one. It returns how many it
// claimed. Once the run's ctx is done, what no sender took is left to
// lapse: it is claimed again once its lease lapses, at once if it lapsed
// already, when another process may have it.
func (r *outboxRun) feed(ctx context.Context, batch int) (int, error) {
	s := r.s
	msgs, err := s.store.ClaimMail(ctx, s.now(), r.lease, batch)
	if err != nil {
		return 0, storeErr(err)
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	r.held.add(msgs, s.now().Add(r.lease))
	ps := s.prepareMails(ctx, msgs)
	for i, p := range ps {
		if p.err != nil || p.drop != "" {
			r.held.release(p.msg)
			r.done(p)
			continue
		}
		select {
		case r.ready <- p:
		case <-ctx.Done():
			for _, q := range ps[i:] {
				r.held.release(q.msg)
			}
			return len(msgs), nil
		}
	}
	return len(msgs), nil
}

// done reports a message prepared but not sent: dropped, or its
// preparation failed.
func (r *outboxRun) done(p *preparedMail) {
	if p.err != nil {
		r.fail(fmt.Errorf("outbox message %d: %w", p.msg.ID, p.err))
		return
	}
	r.s.log.Info("mail dropped", "id", p.msg.ID, "kind", p.msg.Kind, "reason", p.drop)
	r.s.cfg.Observer.MailDelivered(p.msg.Kind, MailDropped)
	r.handled(1)
}

// sender sends the messages of ready, one at a time, until ready is
// closed.
func (r *outboxRun) sender() {
	for p := range r.ready {
		if r.ctx.Err() != nil || !r.s.now().Before(r.held.until()) {
			// Not started: left to lapse (see feed).
			r.held.release(p.msg)
			continue
		}
		r.send(p)
	}
}

// send sends p and hands its outcome to the recorder: at once when the
// server accepted it, before the mailer goes on.
func (r *outboxRun) send(p *preparedMail) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), mailHandleTimeout)
	defer cancel()
	accepted := false
	err := r.mailer.Send(ctx, p.mail, func() error {
		accepted = true
		r.sent <- &mailOutcome{p: p}
		return nil
	})
	if !accepted {
		if err == nil {
			err = errors.New("mailer returned without the server's acceptance")
		}
		r.sent <- &mailOutcome{p: p, err: err}
	}
}

// recorder records the outcomes of sent, those that come within
// recordLinger of the first (up to recordBatch) in one transaction, until
// sent is closed.
func (r *outboxRun) recorder() {
	defer close(r.records)
	batch := make([]*mailOutcome, 0, recordBatch)
	linger := time.NewTimer(recordLinger)
	for o := range r.sent {
		batch = append(batch[:0], o)
		linger.Reset(recordLinger)
	more:
		for len(batch) < recordBatch {
			select {
			case o, ok := <-r.sent:
				if !ok {
					break more
				}
				batch = append(batch, o)
			case <-linger.C:
				break more
			}
		}
		// The mails are out: their outcome is recorded whatever the
		// run's context says.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), mailHandleTimeout)
		k, err := r.s.recordAttempts(ctx, batch)
		cancel()
		for _, o := range batch {
			r.held.release(o.p.msg)
		}
		r.handled(k)
		if err != nil {
			r.fail(err)
		}
	}
}

// heldMail is the set of claimed messages a DeliverMail still has in hand,
// and the time their lease runs to.
type heldMail struct {
	mu    sync.Mutex
	ids   map[int64]bool
	lease time.Time
}

func newHeldMail() *heldMail { return &heldMail{ids: make(map[int64]bool)} }

// add puts messages just claimed, leased until until, into the set. Their
// lease is the set's earliest until the next renewal.
func (h *heldMail) add(msgs []*OutboxMessage, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ids) == 0 || until.Before(h.lease) {
		h.lease = until
	}
	for _, m := range msgs {
		h.ids[m.ID] = true
	}
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

// mailWasQueued wakes RunOutbox after a transaction that queued mail
// committed, so the mail leaves right after the response. It never blocks.
func (s *Service) mailWasQueued() {
	select {
	case s.mailQueued <- struct{}{}:
	default:
	}
}

// recordAttempts records the outcomes of os in one transaction and
// returns how many it recorded. If that transaction fails, each outcome is
// recorded in its own, so that one message the store refuses does not
// hold up the others.
func (s *Service) recordAttempts(ctx context.Context, os []*mailOutcome) (int, error) {
	now := s.now()
	as := make([]*MailAttempt, len(os))
	for i, o := range os {
		as[i] = s.attempt(o, now)
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		for i, o := range os {
			if err := recordAttempt(ctx, tx, o.p, as[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for i, o := range os {
			s.attemptRecorded(o.p.msg, as[i])
		}
		return len(os), nil
	}
	if len(os) == 1 {
		return 0, fmt.Errorf("outbox message %d: %w", os[0].p.msg.ID, storeErr(err))
	}
	var (
		n    int
		errs []error
	)
	for _, o := range os {
		k, err := s.recordAttempts(ctx, []*mailOutcome{o})
		n += k
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// attempt is the attempt to record for o at now: sent when the server
// accepted the mail, else failed or, past the retry window, given up.
func (s *Service) attempt(o *mailOutcome, now time.Time) *MailAttempt {
	m := o.p.msg
	a := &MailAttempt{MessageID: m.ID, At: now, Outcome: MailSent}
	if o.err != nil {
		a.Error = truncate(o.err.Error(), maxAttemptError)
		if now.Sub(m.CreatedAt) < s.cfg.MailRetryFor {
			a.Outcome, a.NextAt = MailFailed, now.Add(s.retryDelay(m.Attempts))
		} else {
			a.Outcome = MailGaveUp
		}
	}
	if a.Outcome != MailFailed {
		a.AddrDigest = Digest(m.To)
	}
	return a
}

// recordAttempt writes attempt a of the prepared message p, and the audit
// of a reset mail sent.
func recordAttempt(ctx context.Context, tx Tx, p *preparedMail, a *MailAttempt) error {
	if err := tx.RecordMailAttempt(ctx, a); err != nil {
		return fmt.Errorf("record mail attempt: %w", err)
	}
	m := p.msg
	action := map[MailKind]string{MailReset: AuditResetMailed, MailInvite: AuditInviteMailed}[m.Kind]
	if a.Outcome != MailSent || action == "" {
		return nil
	}
	return tx.AppendAudit(ctx, &AuditEvent{At: a.At, Action: action, EmailDigest: Digest(p.mail.To),
		UserID: p.userID, IP: m.Meta.IP, UserAgent: m.Meta.UserAgent, Detail: fmt.Sprintf("outbox message %d", m.ID)})
}

// attemptRecorded reports a committed attempt a of m.
func (s *Service) attemptRecorded(m *OutboxMessage, a *MailAttempt) {
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
}

// preparedMail is a claimed message ready to send, the reason it is
// dropped, or the error that kept it from either.
type preparedMail struct {
	msg    *OutboxMessage
	mail   Mail
	userID int64
	drop   string // why nothing is sent; the drop is already recorded
	err    error  // the store failed: the message lapses and is tried again
}

// prepareMails prepares msgs (see prepareMail) in one transaction. If that
// transaction fails, each message is prepared in its own, so that one
// message the store refuses does not hold up the others; those that still
// fail carry their error.
func (s *Service) prepareMails(ctx context.Context, msgs []*OutboxMessage) []*preparedMail {
	ps, err := s.prepareBatch(ctx, msgs)
	if err == nil {
		return ps
	}
	if len(msgs) == 1 {
		return []*preparedMail{{msg: msgs[0], err: err}}
	}
	s.log.Warn("prepare outbox messages together; now one by one", "messages", len(msgs), "err", err)
	ps = make([]*preparedMail, len(msgs))
	for i, m := range msgs {
		one, err := s.prepareBatch(ctx, msgs[i:i+1])
		if err != nil {
			ps[i] = &preparedMail{msg: m, err: err}
		} else {
			ps[i] = one[0]
		}
	}
	return ps
}

// prepareBatch prepares msgs in one transaction: for each, it resolves the
// account and, for a reset, applies the per-address limit and mints the
// tokens; for an invitation, it mints the invitation's token. A message with nothing to send is recorded as MailDropped in that
// transaction.
func (s *Service) prepareBatch(ctx context.Context, msgs []*OutboxMessage) ([]*preparedMail, error) {
	ps := make([]*preparedMail, len(msgs))
	tokens := make([][2]string, len(msgs))
	for i, m := range msgs {
		ps[i] = &preparedMail{msg: m}
		n := map[MailKind]int{MailReset: 2, MailInvite: 1}[m.Kind] // the token, and a reset's cancel token
		for j := range n {
			t, err := newResetToken(s.Rand)
			if err != nil {
				return nil, err
			}
			tokens[i][j] = t
		}
	}
	now := s.now()
	var key []byte
	err := s.store.Update(ctx, func(tx Tx) error {
		for i, p := range ps {
			k, err := s.prepareMail(ctx, tx, p, tokens[i][0], tokens[i][1], now)
			if err != nil {
				return err
			}
			if k != nil {
				key = k
			}
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if key != nil {
		s.mailIDKey.Store(&key) // committed: every process uses this one
	}
	return ps, nil
}

// prepareMail fills p in tx: it resolves its message's account and, for a
// reset, applies the per-address limit and mints the token (token, with
// its cancel token cancel); for an invitation, it issues token. A message with nothing to send is recorded as
// MailDropped. It returns the Message-ID key it read.
func (s *Service) prepareMail(ctx context.Context, tx Tx, p *preparedMail, token, cancel string, now time.Time) ([]byte, error) {
	m := p.msg
	p.mail, p.drop = Mail{Kind: m.Kind, To: m.To, At: m.CreatedAt, Meta: m.Meta}, ""
	u, err := s.mailRecipient(ctx, tx, m)
	if err != nil {
		return nil, err
	}
	switch {
	case u == nil && m.Kind == MailInvite:
		p.drop = "no account awaiting confirmation"
	case u == nil:
		p.drop = "no active account"
	case m.Kind == MailReset && m.Attempts == 0:
		over, err := s.overResetMailLimit(ctx, tx, u.Email, now)
		if err != nil {
			return nil, err
		}
		if over {
			p.drop = "reset mail limit of the address reached"
		}
	}
	if p.drop != "" {
		return nil, tx.RecordMailAttempt(ctx, &MailAttempt{MessageID: m.ID, At: now, Outcome: MailDropped, Error: p.drop,
			AddrDigest: Digest(m.To)})
	}
	p.userID, p.mail.To, p.mail.FirstName = u.ID, u.Email, u.FirstName
	key, err := s.messageIDKey(ctx, tx)
	if err != nil {
		return nil, err
	}
	p.mail.MessageID = messageID(key, m.ID)
	switch m.Kind {
	case MailReset:
		if err := s.issueResetToken(ctx, tx, token, cancel, u.ID, now); err != nil {
			return nil, err
		}
		p.mail.Token, p.mail.CancelToken = token, cancel
		p.mail.TokenTTL = s.cfg.ResetTTL
	case MailInvite:
		if err := issueInvitation(ctx, tx, token, u.ID, now); err != nil {
			return nil, err
		}
		p.mail.Token, p.mail.TokenTTL, p.mail.OrgName = token, InvitationTTL, u.Org.Name
	}
	return key, nil
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
