package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/mail"
)

// The mail worker sends over defaultSMTPConnections (--smtp-connections),
// with sendersPerConnection mails in hand per connection: while one is
// sent, the next is rendered, so that no connection waits for the CPU.
const (
	defaultSMTPConnections = 4
	sendersPerConnection   = 2
)

// maxMailPoll is how long queued mail waits at most for the worker when no
// request woke it (a retry that came due, a mail queued by another process).
const maxMailPoll = 5 * time.Second

// startMailWorker starts the outbox worker when an SMTP server is
// configured. The returned stop cancels it and waits until the messages it
// has in hand are finished, then closes its SMTP connections; what it did
// not start stays in the outbox for the next start.
func startMailWorker(svc *account.Service, c *config) (stop func(), err error) {
	if c.SMTPURL == "" {
		return func() {}, nil
	}
	sender, err := mail.NewSMTP(c.SMTPURL, c.MailFrom, c.mailLook())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	sender.LimitConnections(c.SMTPConnections)
	return background(func(ctx context.Context) {
		svc.RunOutbox(ctx, sender, min(maxMailPoll, c.MailRetryMin))
		sender.Close()
	}), nil
}

// startPurger starts the periodic purge of --purge-interval (off at 0)
// through the server's store. The returned stop cancels it and waits for
// its transaction in progress.
func startPurger(svc *account.Service, c *config) (stop func()) {
	if c.PurgeInterval <= 0 {
		return func() {}
	}
	return background(func(ctx context.Context) {
		svc.RunPurges(ctx, c.PurgeInterval, account.PurgeOptions{
			Retention: c.PurgeRetention, AuditRetention: c.PurgeAuditRetention})
	})
}

// background runs fn in a goroutine; the returned stop cancels fn's context
// and waits until fn has returned.
func background(fn func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	return func() { cancel(); <-done }
}
