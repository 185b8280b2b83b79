package mail_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/mail"
	"github.com/cruxd/cruxd/internal/testenv"
)

const (
	publicURL = "https://accounts.example.com"
	token     = "G7TwCq1Vkds0DLYnfAuP"
	cancel    = "Xc4nCe1ToKeN00000042"
)

var at = time.Date(2026, 3, 1, 14, 5, 9, 0, time.UTC)

func newSMTP(t *testing.T, smtpURL string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(smtpURL, "Crux Accounts <no-reply@example.com>", mail.Look{PublicURL: publicURL, Product: "Crux"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// noRecord stands for the outbox's record of an accepted mail.
func noRecord() error { return nil }

func send(t *testing.T, s *mail.SMTP, m account.Mail) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Send(ctx, m, noRecord); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// TestResetMail sends a reset mail to a real Mailpit and reads it back: the
// link carries the token in the fragment of --public-url, the text shows
// the token, and there is an HTML part and a "this wasn't me" link carrying
// the cancel token.
func TestResetMail(t *testing.T) {
	mp := testenv.StartMailpit(t)
	s := newSMTP(t, mp.SMTPURL())
	send(t, s, account.Mail{Kind: account.MailReset, To: "roy@example.com", FirstName: "Roy", Token: token, CancelToken: cancel, TokenTTL: 2 * time.Hour, At: at,
		Meta: account.Meta{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}})

	msgs := mp.WaitMessage(t, "roy@example.com", 1, 30*time.Second)
	d := mp.Message(t, msgs[0].ID)
	if d.Subject != "Reset your Crux password" || d.From != "no-reply@example.com" {
		t.Errorf("subject %q from %q", d.Subject, d.From)
	}
	link := publicURL + "/reset-password/#token=" + token
	revoke := publicURL + "/reset-password/#revoke=" + cancel
	text := strings.ReplaceAll(d.Text, "\r\n", "\n")
	for _, want := range []string{link, revoke, "\n" + token + "\n", "Hello Roy", "203.0.113.7", "2026-03-01 14:05:09 UTC",
		"expires in 2 hours", "using Firefox on Linux"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, d.Text)
		}
	}
	for _, want := range []string{`href="` + link + `"`, `href="` + revoke + `"`, token, "expires in 2 hours", "using Firefox on Linux"} {
		if !strings.Contains(d.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, d.HTML)
		}
	}
	if got := d.Headers.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted %q", got)
	}
}

// TestMessageIDAndAccepted: the mail's Message-ID is the one the outbox
// chose, on the From address's domain, so that two sends of one message
// carry the same; Send reports the acceptance before it returns, and
// returns the error of recording it.
func TestMessageIDAndAccepted(t *testing.T) {
	mp := testenv.StartMailpit(t)
	s := newSMTP(t, mp.SMTPURL())
	m := account.Mail{Kind: account.MailReset, To: "roy@example.com", FirstName: "Roy", Token: token, CancelToken: cancel,
		TokenTTL: 2 * time.Hour, At: at, MessageID: "0123456789abcdef0123456789abcdef"}
	errRecord := errors.New("store down")
	for i, record := range []error{nil, errRecord} {
		calls := 0
		err := s.Send(context.Background(), m, func() error {
			calls++
			return record
		})
		if calls != 1 || !errors.Is(err, record) || (record == nil) != (err == nil) {
			t.Errorf("send %d: accepted called %d times, Send = %v; want once and %v", i, calls, err, record)
		}
	}
	msgs := mp.WaitMessage(t, "roy@example.com", 2, 30*time.Second)
	for _, msg := range msgs {
		if msg.MessageID != m.MessageID+"@example.com" {
			t.Errorf("Message-ID %q, want %s@example.com", msg.MessageID, m.MessageID)
		}
	}

	down := newSMTP(t, "smtp://127.0.0.1:1")
	if err := down.Send(context.Background(), m, func() error {
		t.Error("accepted called for a mail no server took")
		return nil
	}); err == nil {
		t.Error("Send to a closed port succeeded")
	}
}

// TestPasswordChangedMail: the notice says when, from where and with what
// the password changed, and what to do if it was not the owner.
func TestPasswordChangedMail(t *testing.T) {
	mp := testenv.StartMailpit(t)
	s := newSMTP(t, mp.SMTPURL())
	send(t, s, account.Mail{Kind: account.MailPasswordChanged, To: "roy@example.com", FirstName: "Roy", At: at,
		Meta: account.Meta{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 <script>alert(1)</script>"}})

	d := mp.Message(t, mp.WaitMessage(t, "roy@example.com", 1, 30*time.Second)[0].ID)
	if d.Subject != "Your Crux password was changed" {
		t.Errorf("subject %q", d.Subject)
	}
	for _, want := range []string{"2026-03-01 14:05:09 UTC", "203.0.113.7", "an unknown device", publicURL + "/reset-password/", "support"} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, d.Text)
		}
		if !strings.Contains(d.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, d.HTML)
		}
	}
	if strings.Contains(d.HTML, "<script>") || strings.Contains(d.Text, token) {
		t.Errorf("HTML part not escaped or token leaked:\n%s", d.HTML)
	}
}

// TestInviteMail sends an invitation to a real Mailpit and reads it back:
// the subject names the organization, the link carries the token in the
// fragment of the accept-invite page, and both parts say how long it lives;
// an organization name cannot inject markup.
func TestInviteMail(t *testing.T) {
	mp := testenv.StartMailpit(t)
	s := newSMTP(t, mp.SMTPURL())
	send(t, s, account.Mail{Kind: account.MailInvite, To: "ann@example.com", FirstName: "Ann", Token: token,
		TokenTTL: account.InvitationTTL, OrgName: "Acme <b>Corp</b>", At: at})

	d := mp.Message(t, mp.WaitMessage(t, "ann@example.com", 1, 30*time.Second)[0].ID)
	if d.Subject != "You are invited to Acme <b>Corp</b> on Crux" {
		t.Errorf("subject %q", d.Subject)
	}
	link := publicURL + "/accept-invite/#token=" + token
	text := strings.ReplaceAll(d.Text, "\r\n", "\n")
	for _, want := range []string{"Hello Ann", link, "\n" + token + "\n", "expires in 2 hours", "ann@example.com"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, d.Text)
		}
	}
	for _, want := range []string{`href="` + link + `"`, token, "expires in 2 hours", "Acme &lt;b&gt;Corp&lt;/b&gt;"} {
		if !strings.Contains(d.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, d.HTML)
		}
	}
}

// TestUserAgentCannotCarryAMessage: the requester writes the User-Agent, so
// an attacker who asks for a victim's reset writes it. Neither mail may
// show any of it: only a fixed summary such as "Firefox on Linux".
func TestUserAgentCannotCarryAMessage(t *testing.T) {
	const hostile = "Firefox/128.0 \u2028\u202eURGENT: your account is locked, call +1 555 0100 or visit https://evil.example/unlock \u202c" +
		"<a href=\"https://evil.example\">support</a>"
	mp := testenv.StartMailpit(t)
	s := newSMTP(t, mp.SMTPURL())
	meta := account.Meta{IP: "203.0.113.7", UserAgent: hostile}
	send(t, s, account.Mail{Kind: account.MailReset, To: "roy@example.com", Token: token, CancelToken: cancel, TokenTTL: 2 * time.Hour, At: at, Meta: meta})
	send(t, s, account.Mail{Kind: account.MailPasswordChanged, To: "roy@example.com", At: at, Meta: meta})
	for _, m := range mp.WaitMessage(t, "roy@example.com", 2, 30*time.Second) {
		d := mp.Message(t, m.ID)
		for part, body := range map[string]string{"text": d.Text, "HTML": d.HTML} {
			for _, bad := range []string{"evil.example", "URGENT", "555", "\u2028", "\u202e", "\u202c"} {
				if strings.Contains(body, bad) {
					t.Errorf("%s: %s part carries %q of the User-Agent", d.Subject, part, bad)
				}
			}
			if !strings.Contains(body, "Firefox") {
				t.Errorf("%s: %s part lacks the summary Firefox:\n%s", d.Subject, part, body)
			}
		}
	}
}

// TestRecipientCannotInjectHeaders: an address smuggling a header or a
// second recipient is refused before anything reaches the server.
func TestRecipientCannotInjectHeaders(t *testing.T) {
	mp := testenv.StartMailpit(t)
	s := newSMTP(t, mp.SMTPURL())
	for _, to := range []string{
		"victim@example.com\r\nBcc: evil@example.com",
		"victim@example.com\nBcc: evil@example.com",
		"victim@example.com, evil@example.com",
		"Victim <evil@example.com>",
		"",
	} {
		err := s.Send(context.Background(), account.Mail{Kind: account.MailReset, To: to, Token: token, CancelToken: cancel, TokenTTL: 2 * time.Hour, At: at}, noRecord)
		if err == nil {
			t.Errorf("Send to %q: no error", to)
		}
	}
	// A display name with a line break is cleaned, not injected.
	send(t, s, account.Mail{Kind: account.MailReset, To: "victim@example.com", FirstName: "Eve\r\nBcc: evil@example.com",
		Token: token, CancelToken: cancel, TokenTTL: 2 * time.Hour, At: at})
	mp.WaitMessage(t, "victim@example.com", 1, 30*time.Second)
	for _, m := range mp.Messages(t) {
		if len(m.To)+len(m.Cc)+len(m.Bcc) != 1 || m.To[0] != "victim@example.com" {
			t.Errorf("message %s went to %v %v %v", m.ID, m.To, m.Cc, m.Bcc)
		}
	}
}

// TestAuth: with user:pass in the URL the sender authenticates (Mailpit
// accepts any credentials on loopback without TLS).
func TestAuth(t *testing.T) {
	mp := testenv.StartMailpit(t)
	u := strings.Replace(mp.SMTPURL(), "smtp://", "smtp://cruxd:s3cr%40t@", 1)
	send(t, newSMTP(t, u), account.Mail{Kind: account.MailPasswordChanged, To: "roy@example.com", At: at})
	mp.WaitMessage(t, "roy@example.com", 1, 30*time.Second)
}

// TestSendUnreachable: a server that refuses connections is an error, soon.
func TestSendUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := newSMTP(t, "smtp://"+addr)
	start := time.Now()
	if err := s.Send(context.Background(), account.Mail{Kind: account.MailReset, To: "roy@example.com", Token: token, CancelToken: cancel, TokenTTL: 2 * time.Hour, At: at}, noRecord); err == nil {
		t.Fatal("no error")
	} else if strings.Contains(err.Error(), token) {
		t.Errorf("error carries the token: %v", err)
	}
	if d := time.Since(start); d > mail.Timeout+5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestNewSMTP(t *testing.T) {
	for _, tc := range []struct {
		name, url, from, public string
		ok                      bool
	}{
		{"plain", "smtp://127.0.0.1:1025", "a@example.com", publicURL, true},
		{"default port", "smtp://mail.example.com", "a@example.com", publicURL, true},
		{"implicit TLS", "smtps://user:pw@mail.example.com:465", "cruxd <a@example.com>", publicURL, true},
		{"public url path", "smtp://127.0.0.1:1025", "a@example.com", "https://example.com/accounts/", true},
		{"bad scheme", "http://127.0.0.1:1025", "a@example.com", publicURL, false},
		{"no host", "smtp://:25", "a@example.com", publicURL, false},
		{"path", "smtp://127.0.0.1:25/x", "a@example.com", publicURL, false},
		{"query", "smtp://127.0.0.1:25?tls=no", "a@example.com", publicURL, false},
		{"bad port", "smtp://127.0.0.1:99999", "a@example.com", publicURL, false},
		{"bad from", "smtp://127.0.0.1:25", "not an address", publicURL, false},
		{"relative public url", "smtp://127.0.0.1:25", "a@example.com", "/reset", false},
		{"public url with fragment", "smtp://127.0.0.1:25", "a@example.com", publicURL + "/#x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mail.NewSMTP(tc.url, tc.from, mail.Look{PublicURL: tc.public, Product: "Crux"})
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestLinksFromPublicURLOnly: the public URL's path prefix is kept and
// nothing but the token is added.
func TestLinksFromPublicURLOnly(t *testing.T) {
	mp := testenv.StartMailpit(t)
	s, err := mail.NewSMTP(mp.SMTPURL(), "a@example.com", mail.Look{PublicURL: "https://example.com/accounts/", Product: "Crux"})
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, account.Mail{Kind: account.MailReset, To: "roy@example.com", Token: token, CancelToken: cancel, TokenTTL: 2 * time.Hour, At: at})
	d := mp.Message(t, mp.WaitMessage(t, "roy@example.com", 1, 30*time.Second)[0].ID)
	if !strings.Contains(d.Text, "https://example.com/accounts/reset-password/#token="+token) {
		t.Errorf("link:\n%s", d.Text)
	}
}

// TestSessionReused: mails sent one after another share one connection,
// up to SessionMails of them; each is accepted once and arrives once.
func TestSessionReused(t *testing.T) {
	mp := testenv.StartMailpit(t)
	r := testenv.NewRelay(t, mp.SMTPAddr())
	s := newSMTP(t, "smtp://"+r.Addr())
	defer s.Close()
	n := mail.SessionMails + 2
	for i := range n {
		calls := 0
		err := s.Send(context.Background(), account.Mail{Kind: account.MailPasswordChanged, To: fmt.Sprintf("u%d@example.com", i), At: at},
			func() error { calls++; return nil })
		if err != nil || calls != 1 {
			t.Fatalf("send %d: %v, accepted called %d times", i, err, calls)
		}
	}
	if got := r.Dialled(); got != 2 {
		t.Errorf("%d mails took %d connections, want 2 (%d a connection)", n, got, mail.SessionMails)
	}
	mp.WaitMessage(t, fmt.Sprintf("u%d@example.com", n-1), 1, 30*time.Second)
	if got := len(mp.Messages(t)); got != n {
		t.Errorf("Mailpit received %d mails, want %d", got, n)
	}
}

// TestSessionDroppedIdle: when the server dropped the idle connection, the
// next mail goes over a new one, without an error and only once.
func TestSessionDroppedIdle(t *testing.T) {
	mp := testenv.StartMailpit(t)
	r := testenv.NewRelay(t, mp.SMTPAddr())
	s := newSMTP(t, "smtp://"+r.Addr())
	defer s.Close()
	send(t, s, account.Mail{Kind: account.MailPasswordChanged, To: "first@example.com", At: at})
	r.Cut()
	send(t, s, account.Mail{Kind: account.MailPasswordChanged, To: "second@example.com", At: at})
	mp.WaitMessage(t, "second@example.com", 1, 30*time.Second)
	if got, d := len(mp.Messages(t)), r.Dialled(); got != 2 || d != 2 {
		t.Errorf("Mailpit received %d mails over %d connections, want 2 over 2", got, d)
	}

	// A server gone for good fails the mail, and accepted is not called.
	mp.Stop(t)
	err := s.Send(context.Background(), account.Mail{Kind: account.MailPasswordChanged, To: "third@example.com", At: at}, func() error {
		t.Error("accepted called for a mail no server took")
		return nil
	})
	if err == nil {
		t.Error("Send with the server down succeeded")
	}
}
