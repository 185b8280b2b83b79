package account_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/mail"
	"github.com/cruxd/cruxd/internal/sqlite"
	"github.com/cruxd/cruxd/internal/testenv"
)

// The outbox worker with the real SMTP sender and a real Mailpit: several
// senders, each reusing its connection, batches prepared and recorded
// together.

// mailCounter is an Observer counting delivery outcomes.
type mailCounter struct {
	sent, failed atomic.Int64
}

func (*mailCounter) ResetRequested()          {}
func (*mailCounter) ResetCompleted()          {}
func (*mailCounter) LoginSucceeded()          {}
func (*mailCounter) LoginFailed()             {}
func (*mailCounter) Throttled(string)         {}
func (*mailCounter) HashWaited(time.Duration) {}
func (c *mailCounter) MailDelivered(_ account.MailKind, o account.MailOutcome) {
	switch o {
	case account.MailSent:
		c.sent.Add(1)
	case account.MailFailed:
		c.failed.Add(1)
	}
}

// smtpOutbox returns a production Service without limits on a fresh file
// holding users mailbox users, its store, and its outcome counter. Failed
// mails are retried after 50 ms.
func smtpOutbox(t *testing.T, users int) (*account.Service, *sqlite.Store, *mailCounter) {
	t.Helper()
	obs := &mailCounter{}
	svc, store := mustOpenStoreService(t, filepath.Join(t.TempDir(), "x.db"), account.Config{
		Mode: account.Production, Mail: true, MailSenders: 4, Observer: obs,
		MailRetryMin: 50 * time.Millisecond, MailRetryMax: 100 * time.Millisecond,
	})
	ctx := context.Background()
	if _, err := svc.SeedSandbox(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range users {
		if _, err := svc.CreateUser(ctx, account.NewUser{OrgName: "Crux Supplier", Email: mailbox(i), FirstName: "U"}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, store, obs
}

func mailbox(i int) string { return fmt.Sprintf("user%d@cruxsupplier.com", i) }

// runOutbox runs svc's worker through sender until the test ends.
func runOutbox(t *testing.T, svc *account.Service, sender account.Mailer) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { svc.RunOutbox(ctx, sender, 20*time.Millisecond) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitFor polls cond (a condition, not a synchronization) for up to a
// minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

func pending(t *testing.T, svc *account.Service) int {
	st, err := svc.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.MailPending
}

// checkDeliveredOnce checks that Mailpit holds exactly one mail per outbox
// message 1..n, each with its own Message-ID, and that each message's last
// recorded attempt is sent; it returns how many attempts failed first.
func checkDeliveredOnce(t *testing.T, mp *testenv.Mailpit, store *sqlite.Store, n int) (failed int) {
	t.Helper()
	got := mp.Messages(t)
	ids := map[string]bool{}
	for _, m := range got {
		ids[m.MessageID] = true
	}
	if len(got) != n || len(ids) != n {
		t.Errorf("Mailpit holds %d mails with %d Message-IDs, want %d of each", len(got), len(ids), n)
	}
	for id := int64(1); id <= int64(n); id++ {
		as := attempts(t, store, id)
		if len(as) == 0 || as[len(as)-1].Outcome != account.MailSent {
			t.Errorf("message %d: attempts %v, want the last one sent", id, outcomes(as))
			continue
		}
		failed += len(as) - 1
	}
	return failed
}

// TestOutboxSessionsDeliverEachOnce: many mails through four senders
// sharing two connections reach Mailpit once each, over no more than two
// connections, and each is recorded sent once.
func TestOutboxSessionsDeliverEachOnce(t *testing.T) {
	const users, each = 40, 3
	svc, store, obs := smtpOutbox(t, users)
	mp := testenv.StartMailpit(t)
	conns := testenv.NewRelay(t, mp.SMTPAddr())
	sender, err := mail.NewSMTP("smtp://"+conns.Addr(), "a@example.com", mail.Look{PublicURL: "https://example.com", Product: "Crux"})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	sender.LimitConnections(2) // four senders, two connections
	for range each {
		for i := range users {
			request(t, svc, mailbox(i))
		}
	}
	runOutbox(t, svc, sender)
	n := users * each
	waitFor(t, "every mail recorded", func() bool { return obs.sent.Load() >= int64(n) && pending(t, svc) == 0 })
	if failed := checkDeliveredOnce(t, mp, store, n); failed != 0 || obs.sent.Load() != int64(n) {
		t.Errorf("%d attempts failed, %d recorded sent; want 0 and %d", failed, obs.sent.Load(), n)
	}
	if c := conns.Dialled(); c < 1 || c > 2 {
		t.Errorf("%d mails took %d connections, want 1 or 2", n, c)
	}
	for i := range users {
		if got := len(mp.WaitMessage(t, mailbox(i), each, time.Second)); got != each {
			t.Errorf("%s received %d mails, want %d", mailbox(i), got, each)
		}
	}
}

// TestOutboxSessionsFailureRetried: when the server goes away under open
// sessions, the mails sent meanwhile fail, are recorded as failed and go
// out once the server is back, each once.
func TestOutboxSessionsFailureRetried(t *testing.T) {
	const users = 40
	svc, store, obs := smtpOutbox(t, users)
	mp := testenv.StartMailpit(t)
	sender, err := mail.NewSMTP(mp.SMTPURL(), "a@example.com", mail.Look{PublicURL: "https://example.com", Product: "Crux"})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	runOutbox(t, svc, sender)
	for i := range users {
		request(t, svc, mailbox(i))
	}
	waitFor(t, "the first mails sent", func() bool { return obs.sent.Load() == users })

	mp.Stop(t) // the senders' idle connections die with it
	for i := range users {
		request(t, svc, mailbox(i))
	}
	waitFor(t, "a failed attempt", func() bool { return obs.failed.Load() > 0 })
	mp.Start(t)
	waitFor(t, "every mail sent", func() bool { return pending(t, svc) == 0 })

	if failed := checkDeliveredOnce(t, mp, store, 2*users); failed == 0 {
		t.Error("no attempt failed while the server was away")
	}
}
