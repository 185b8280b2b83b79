package mail

import (
	"context"
	"log/slog"

	"github.com/cruxd/cruxd/internal/account"
)

// LogMailer stands in for SMTP in a sandbox without a server: it sends
// nothing and logs that, with the mail's kind and address but never its
// token.
type LogMailer struct {
	Log *slog.Logger
}

var _ account.Mailer = LogMailer{}

// Send logs that m was not sent and returns accepted's error.
func (l LogMailer) Send(ctx context.Context, m account.Mail, accepted func() error) error {
	if l.Log != nil {
		l.Log.InfoContext(ctx, "mail not sent: no SMTP server configured", "kind", m.Kind, "to", m.To)
	}
	return accepted()
}
