package account_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// The outbox worker's tests run on the real SQLite store with a fake clock;
// only the Mailer is a recording double (the SMTP sender is tested against a
// real Mailpit in internal/mail and cmd/cruxd).

const (
	deactivated = "gone@cruxsupplier.com"
	stranger    = "nobody@example.com"
	lease       = time.Minute
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// outboxClock is a fake clock safe to read from the worker's goroutines.
type outboxClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *outboxClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *outboxClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *outboxClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is a Mailer that records what it is handed and fails for the
// addresses in fail.
type recorder struct {
	mu   sync.Mutex
	sent []account.Mail
	fail map[string]bool
	down bool // fail everything
}

var errSMTPDown = errors.New("451 4.3.0 try again later")

func (r *recorder) Send(_ context.Context, m account.Mail, accepted func() error) error {
	r.mu.Lock()
	if r.down || r.fail[m.To] {
		r.mu.Unlock()
		return errSMTPDown
	}
	r.sent = append(r.sent, m)
	r.mu.Unlock()
	return accepted()
}

func (r *recorder) setDown(down bool) { r.mu.Lock(); r.down = down; r.mu.Unlock() }

// mails returns the mails sent so far to addr.
func (r *recorder) mails(addr string) []account.Mail {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []account.Mail
	for _, m := range r.sent {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

// openOutbox opens a production Service with the default limits on the
// SQLite file at path, closed when the test ends.
func openOutbox(tb testing.TB, path string, clk *outboxClock) (*account.Service, *sqlite.Store) {
	tb.Helper()
	svc, store := mustOpenStoreService(tb, path, account.Config{
		Mode: account.Production, Mail: true, Limits: account.ProductionLimits,
	})
	svc.Now = clk.Now
	return svc, store
}

// newOutbox returns a production Service on a fresh file holding the demo
// users plus a deactivated one, and the file's path.
func newOutbox(tb testing.TB) (*account.Service, *sqlite.Store, *outboxClock, string) {
	tb.Helper()
	clk := &outboxClock{t: t0}
	path := filepath.Join(tb.TempDir(), "x.db")
	svc, store := openOutbox(tb, path, clk)
	ctx := context.Background()
	if _, err := svc.SeedSandbox(ctx); err != nil { // the demo users, seeded by hand here
		tb.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, account.NewUser{OrgName: "Crux Supplier", Email: deactivated, Status: account.StatusDeactivated}); err != nil {
		tb.Fatal(err)
	}
	return svc, store, clk, path
}

func request(tb testing.TB, svc *account.Service, email string) {
	tb.Helper()
	tok, err := svc.RequestReset(context.Background(), email, account.Meta{IP: "203.0.113.9", UserAgent: "test"})
	if err != nil || tok != "" {
		tb.Fatalf("RequestReset(%s) = %q, %v", email, tok, err)
	}
}

func deliver(tb testing.TB, svc *account.Service, m account.Mailer, batch int) int {
	tb.Helper()
	n, err := svc.DeliverMail(context.Background(), m, lease, batch)
	if err != nil {
		tb.Fatalf("DeliverMail: %v", err)
	}
	return n
}

func attempts(tb testing.TB, store *sqlite.Store, id int64) []*account.MailAttempt {
	tb.Helper()
	as, err := store.MailAttempts(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return as
}

func outcomes(as []*account.MailAttempt) []account.MailOutcome {
	var out []account.MailOutcome
	for _, a := range as {
		out = append(out, a.Outcome)
	}
	return out
}

// TestOutboxResolvesAtDelivery: in production the request only queues the
// address; the worker mails the active account a live token and drops the
// unknown and deactivated addresses. The clear token never rests in the
// database files.
func TestOutboxResolvesAtDelivery(t *testing.T) {
	svc, store, _, path := newOutbox(t)
	ctx := context.Background()
	for _, e := range []string{roy, stranger, deactivated} {
		request(t, svc, e)
	}
	rec := &recorder{}
	if n := deliver(t, svc, rec, 16); n != 3 {
		t.Fatalf("handled %d messages, want 3", n)
	}
	if len(rec.sent) != 1 {
		t.Fatalf("sent %d mails, want 1: %+v", len(rec.sent), rec.sent)
	}
	m := rec.sent[0]
	if m.Kind != account.MailReset || m.To != roy || m.FirstName != "Roy" || m.Meta.IP != "203.0.113.9" || !m.At.Equal(t0) {
		t.Errorf("mail %+v", m)
	}
	if email, err := svc.ValidateReset(ctx, m.Token); err != nil || email != roy {
		t.Errorf("mailed token: %q, %v", email, err)
	}
	for id, want := range map[int64]account.MailOutcome{1: account.MailSent, 2: account.MailDropped, 3: account.MailDropped} {
		if got := outcomes(attempts(t, store, id)); !slices.Equal(got, []account.MailOutcome{want}) {
			t.Errorf("message %d: %v, want [%s]", id, got, want)
		}
	}
	// Once finished, no message tells by its address who has an account.
	for id, addr := range map[int64]string{1: roy, 2: stranger, 3: deactivated} {
		got, digest, err := store.OutboxAddress(ctx, id)
		if err != nil || got != "" || !bytes.Equal(digest, account.Digest(addr)) {
			t.Errorf("finished message %d holds address %q, digest %x (%v); want only the digest of %s", id, got, digest, err, addr)
		}
	}
	if n := deliver(t, svc, rec, 16); n != 0 {
		t.Errorf("handled %d messages again", n)
	}
	noClearTokens(t, path, m.Token)
}

// noClearTokens fails if a file of the database at path holds one of
// tokens in clear.
func noClearTokens(t *testing.T, path string, tokens ...string) {
	t.Helper()
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range tokens {
			if bytes.Contains(b, []byte(tok)) {
				t.Errorf("%s holds a mailed token in clear", filepath.Base(f))
			}
		}
	}
}

// TestOutboxCancelTokenOnlyCancels: a reset mail carries two tokens. The
// reset token cannot cancel; the cancel token of the "this wasn't me" link
// cannot validate or set a password, and cancels the request. Neither
// rests in the database files in clear.
func TestOutboxCancelTokenOnlyCancels(t *testing.T) {
	svc, _, _, path := newOutbox(t)
	ctx := context.Background()
	request(t, svc, roy)
	rec := &recorder{}
	deliver(t, svc, rec, 16)
	ms := rec.mails(roy)
	if len(ms) != 1 {
		t.Fatalf("sent %d mails to %s, want 1", len(ms), roy)
	}
	m := ms[0]
	if m.CancelToken == "" || m.CancelToken == m.Token {
		t.Fatalf("cancel token %q beside reset token %q: want a token of its own", m.CancelToken, m.Token)
	}
	_, err := svc.ValidateReset(ctx, m.CancelToken)
	wantCode(t, err, account.ENOTFOUND)
	wantCode(t, svc.CompleteReset(ctx, m.CancelToken, goodPW, account.Meta{}), account.ENOTFOUND)
	wantCode(t, svc.RevokeReset(ctx, m.Token, account.Meta{}), account.ENOTFOUND)
	if email, err := svc.ValidateReset(ctx, m.Token); err != nil || email != roy {
		t.Fatalf("reset token after the refused calls: %q, %v", email, err)
	}
	if err := svc.RevokeReset(ctx, m.CancelToken, account.Meta{}); err != nil {
		t.Fatalf("RevokeReset(cancel token): %v", err)
	}
	_, err = svc.ValidateReset(ctx, m.Token)
	wantCode(t, err, account.ENOTFOUND)
	wantCode(t, svc.RevokeReset(ctx, m.CancelToken, account.Meta{}), account.ENOTFOUND)
	noClearTokens(t, path, m.Token, m.CancelToken)
}

// TestOutboxBackoff: a mail that keeps failing is retried after 30 s, then
// twice as long each time up to 1 h, every attempt recorded with a fresh
// token, until 24 h have passed since it was queued; then it is given up.
// Retries do not eat the per-address limit.
func TestOutboxBackoff(t *testing.T) {
	svc, store, clk, _ := newOutbox(t)
	request(t, svc, roy)
	rec := &recorder{down: true}

	failed := 0
	wait := 30 * time.Second
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("never gave up")
		}
		if n := deliver(t, svc, rec, 16); n != 1 {
			t.Fatalf("attempt %d at %v: handled %d", i+1, clk.Now().Sub(t0), n)
		}
		as := attempts(t, store, 1)
		a := as[len(as)-1]
		if len(as) != i+1 || !a.At.Equal(clk.Now()) || a.Error != errSMTPDown.Error() {
			t.Fatalf("attempt %d: recorded %d, last %+v", i+1, len(as), a)
		}
		if a.Outcome == account.MailGaveUp {
			if age := clk.Now().Sub(t0); age < 24*time.Hour {
				t.Fatalf("gave up after %v", age)
			}
			break
		}
		if a.Outcome != account.MailFailed || a.NextAt.Sub(a.At) != wait {
			t.Fatalf("attempt %d: %s, next in %v, want failed, next in %v", i+1, a.Outcome, a.NextAt.Sub(a.At), wait)
		}
		// Not due before NextAt.
		clk.Set(a.NextAt.Add(-time.Nanosecond))
		if n := deliver(t, svc, rec, 16); n != 0 {
			t.Fatalf("attempt %d: retried before its time", i+1)
		}
		clk.Set(a.NextAt)
		wait = min(2*wait, time.Hour)
		failed++
	}
	// Given up: never again.
	clk.Advance(48 * time.Hour)
	if n := deliver(t, svc, rec, 16); n != 0 {
		t.Errorf("handled %d after giving up", n)
	}
	if failed < 24 {
		t.Errorf("only %d failed attempts over 24 h", failed)
	}
}

// TestOutboxRetryMintsFreshToken: after a failed attempt the retry mints
// and mails a new token, which works.
func TestOutboxRetryMintsFreshToken(t *testing.T) {
	svc, store, clk, _ := newOutbox(t)
	ctx := context.Background()
	request(t, svc, roy)
	rec := &recorder{down: true}
	deliver(t, svc, rec, 16)
	rec.setDown(false)
	clk.Advance(30 * time.Second)
	if n := deliver(t, svc, rec, 16); n != 1 {
		t.Fatalf("retry handled %d", n)
	}
	got := outcomes(attempts(t, store, 1))
	if !slices.Equal(got, []account.MailOutcome{account.MailFailed, account.MailSent}) {
		t.Fatalf("attempts %v", got)
	}
	mails := rec.mails(roy)
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	if email, err := svc.ValidateReset(ctx, mails[0].Token); err != nil || email != roy {
		t.Errorf("retried token: %q, %v", email, err)
	}
}

// TestOutboxFailureDoesNotBlock: a message that fails does not hold up the
// messages after it, in one batch or claimed one at a time.
func TestOutboxFailureDoesNotBlock(t *testing.T) {
	for _, batch := range []int{16, 1} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			svc, store, _, _ := newOutbox(t)
			request(t, svc, roy) // fails forever
			request(t, svc, bailey)
			rec := &recorder{fail: map[string]bool{roy: true}}
			for range 3 {
				deliver(t, svc, rec, batch)
			}
			if len(rec.mails(bailey)) != 1 {
				t.Fatalf("bailey got %d mails", len(rec.mails(bailey)))
			}
			if got := outcomes(attempts(t, store, 1)); !slices.Equal(got, []account.MailOutcome{account.MailFailed}) {
				t.Errorf("roy's message: %v", got)
			}
		})
	}
}

// TestOutboxRestart: what one process queued or failed to send, a new
// Service on the same file delivers.
func TestOutboxRestart(t *testing.T) {
	svc, store, clk, path := newOutbox(t)
	request(t, svc, roy)
	request(t, svc, bailey)
	deliver(t, svc, &recorder{fail: map[string]bool{roy: true}}, 1) // roy failed; bailey never tried
	store.Close()

	svc2, store2 := openOutbox(t, path, clk)
	rec := &recorder{}
	deliver(t, svc2, rec, 16)
	if len(rec.mails(bailey)) != 1 || len(rec.mails(roy)) != 0 {
		t.Fatalf("after restart: %d to bailey, %d to roy", len(rec.mails(bailey)), len(rec.mails(roy)))
	}
	clk.Advance(30 * time.Second)
	deliver(t, svc2, rec, 16)
	if len(rec.mails(roy)) != 1 {
		t.Fatalf("roy's retry after restart: %d mails", len(rec.mails(roy)))
	}
	if got := outcomes(attempts(t, store2, 1)); !slices.Equal(got, []account.MailOutcome{account.MailFailed, account.MailSent}) {
		t.Errorf("roy's message: %v", got)
	}
}

// TestOutboxLeaseExpiry: a message claimed by a worker that died is
// delivered by another once the lease lapses, not before.
func TestOutboxLeaseExpiry(t *testing.T) {
	svc, store, clk, _ := newOutbox(t)
	request(t, svc, roy)
	if msgs, err := store.ClaimMail(context.Background(), clk.Now(), lease, 16); err != nil || len(msgs) != 1 {
		t.Fatalf("claim: %d, %v", len(msgs), err)
	} // ... and the claimer dies
	rec := &recorder{}
	if n := deliver(t, svc, rec, 16); n != 0 {
		t.Fatalf("delivered a leased message")
	}
	clk.Advance(lease)
	if n := deliver(t, svc, rec, 16); n != 1 || len(rec.mails(roy)) != 1 {
		t.Fatalf("after the lease: handled %d, %d mails", n, len(rec.mails(roy)))
	}
}

// TestOutboxAddressLimit: at most three reset mails an hour to one address;
// the rest are dropped. The next hour has a new budget.
func TestOutboxAddressLimit(t *testing.T) {
	svc, store, clk, _ := newOutbox(t)
	for range 5 {
		request(t, svc, roy)
	}
	rec := &recorder{}
	deliver(t, svc, rec, 16)
	if n := len(rec.mails(roy)); n != 3 {
		t.Fatalf("%d mails, want 3", n)
	}
	var dropped int
	for id := int64(1); id <= 5; id++ {
		if got := outcomes(attempts(t, store, id)); slices.Equal(got, []account.MailOutcome{account.MailDropped}) {
			dropped++
		}
	}
	if dropped != 2 {
		t.Errorf("%d dropped, want 2", dropped)
	}
	clk.Advance(time.Hour)
	request(t, svc, roy)
	deliver(t, svc, rec, 16)
	if n := len(rec.mails(roy)); n != 4 {
		t.Errorf("next hour: %d mails in all, want 4", n)
	}
}

// TestOutboxPasswordChanged: completing a reset queues the notice, which
// the worker sends with the time, IP and user agent of the change.
func TestOutboxPasswordChanged(t *testing.T) {
	svc, _, clk, _ := newOutbox(t)
	ctx := context.Background()
	request(t, svc, roy)
	rec := &recorder{}
	deliver(t, svc, rec, 16)
	clk.Advance(time.Minute)
	meta := account.Meta{IP: "198.51.100.4", UserAgent: "Firefox"}
	if err := svc.CompleteReset(ctx, rec.mails(roy)[0].Token, goodPW, meta); err != nil {
		t.Fatal(err)
	}
	deliver(t, svc, rec, 16)
	ms := rec.mails(roy)
	if len(ms) != 2 {
		t.Fatalf("%d mails", len(ms))
	}
	if m := ms[1]; m.Kind != account.MailPasswordChanged || m.Token != "" || m.Meta != meta || !m.At.Equal(clk.Now()) {
		t.Errorf("notice %+v", m)
	}
}

// TestRunOutbox: the loop sends a queued mail right after the request, long
// before its poll interval, and returns once its context is done.
func TestRunOutbox(t *testing.T) {
	svc, _, _, _ := newOutbox(t)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.RunOutbox(ctx, rec, time.Hour); close(done) }()

	request(t, svc, roy)
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.mails(roy)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("mail not sent within 10s of the request")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronizing
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunOutbox did not return after cancel")
	}
}

// lostAnswer is a Mailer whose server takes the mail and whose answer is
// lost: the outbox must send it again.
type lostAnswer struct{ recorder }

func (l *lostAnswer) Send(_ context.Context, m account.Mail, _ func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, m)
	return errors.New("connection reset after DATA")
}

// TestOutboxMessageIDStable: every send of one outbox message carries the
// same Message-ID, whichever process sends it, so that a receiver can drop
// a repeat; another message has another.
func TestOutboxMessageIDStable(t *testing.T) {
	svc, _, clk, path := newOutbox(t)
	request(t, svc, roy)
	request(t, svc, bailey)
	lost := &lostAnswer{}
	deliver(t, svc, lost, 16)
	clk.Advance(time.Hour) // past the retry delay
	other, _ := openOutbox(t, path, clk)
	rec := &recorder{}
	deliver(t, other, rec, 16)
	first, again := lost.mails(roy), rec.mails(roy)
	if len(first) != 1 || len(again) != 1 {
		t.Fatalf("mails to %s: %d lost, %d sent; want 1 and 1", roy, len(first), len(again))
	}
	id := first[0].MessageID
	if len(id) != 32 || again[0].MessageID != id {
		t.Errorf("Message-IDs of one message: %q then %q; want one 32-character id", id, again[0].MessageID)
	}
	if b := rec.mails(bailey); len(b) != 1 || b[0].MessageID == id || b[0].MessageID == "" {
		t.Errorf("another message's Message-ID: %+v, want another one than %q", b, id)
	}
}

// blocking is a Mailer whose sends wait until release is closed.
type blocking struct {
	recorder
	started chan struct{}
	release chan struct{}
}

func (b *blocking) Send(ctx context.Context, m account.Mail, accepted func() error) error {
	b.started <- struct{}{}
	<-b.release
	return b.recorder.Send(ctx, m, accepted)
}

// TestOutboxLeaseRenewed: a send that outlasts the lease keeps its
// message: the worker renews the lease while it sends, so no other worker
// claims the message meanwhile. Real clock: the renewals run on it.
func TestOutboxLeaseRenewed(t *testing.T) {
	svc, _, _, path := newOutbox(t)
	svc.Now = time.Now
	request(t, svc, roy)
	const short = time.Second // renewed every 333 ms: slack for a loaded machine
	slow := &blocking{started: make(chan struct{}, 1), release: make(chan struct{})}
	done := make(chan int)
	go func() {
		n, err := svc.DeliverMail(context.Background(), slow, short, 16)
		if err != nil {
			t.Errorf("DeliverMail: %v", err)
		}
		done <- n
	}()
	<-slow.started
	other, _ := openOutbox(t, path, &outboxClock{})
	other.Now = time.Now
	rec := &recorder{}
	for end := time.Now().Add(3 * short); time.Now().Before(end); {
		n, err := other.DeliverMail(context.Background(), rec, short, 16)
		if err != nil || n != 0 {
			t.Fatalf("another worker handled %d messages (%v) while the first one sends", n, err)
		}
		time.Sleep(short / 10) // polling: the lease must hold all along
	}
	close(slow.release)
	if n := <-done; n != 1 || len(slow.mails(roy)) != 1 || len(rec.mails(roy)) != 0 {
		t.Errorf("handled %d; %d mails from the slow worker, %d from the other; want 1, 1, 0", n, len(slow.mails(roy)), len(rec.mails(roy)))
	}
}
