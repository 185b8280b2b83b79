// Package mail sends cruxd's mails over SMTP with github.com/wneessen/go-mail,
// rendered from templates embedded in the binary. The outbox that decides
// what to send and when lives in the domain (account.Service.RunOutbox).
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/cruxd/cruxd/internal/account"
)

// Timeout bounds each SMTP conversation step: the dial with its greeting,
// and each command after it.
const Timeout = 10 * time.Second

// SMTP sends mail through one SMTP server. It is safe for concurrent use:
// each Send has its own connection.
type SMTP struct {
	host     string
	port     int
	user     string
	pass     string
	implicit bool // smtps://: TLS from the first byte
	policy   gomail.TLSPolicy
	from     *netmail.Address
	idDomain string // the right part of Message-IDs: the From address's domain
	content  *content
}

var _ account.Mailer = (*SMTP)(nil)

// NewSMTP returns a sender for smtpURL, smtp://[user:pass@]host[:port] (port
// 587 by default) or smtps:// for implicit TLS (port 465 by default).
// STARTTLS is used when the server offers it, and required when
// credentials are given for a host that is not loopback, so that they never
// cross the network in clear. The mails are rendered with look: links are
// built from look.PublicURL only. It returns an error for an unusable URL,
// From address or template, naming the template's file and line.
func NewSMTP(smtpURL, from string, look Look) (*SMTP, error) {
	u, err := url.Parse(smtpURL)
	if err != nil {
		return nil, errors.New("smtp url: not a URL") // the parse error would echo the password
	}
	s := &SMTP{host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, fmt.Errorf("smtp url: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if s.host == "" || u.Opaque != "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("smtp url: want smtp://[user:pass@]host:port with nothing after the port")
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("smtp url: bad port %q", p)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	switch {
	case s.implicit:
		s.policy = gomail.NoTLS // the connection is TLS already
	case s.user != "" && !isLoopback(s.host):
		s.policy = gomail.TLSMandatory
	default:
		s.policy = gomail.TLSOpportunistic
	}
	if s.from, err = netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("mail from %q: %v", from, err)
	}
	s.idDomain = s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]
	if s.content, err = newContent(look); err != nil {
		return nil, err
	}
	return s, nil
}

// Send renders m and delivers it. The recipient goes through the address
// API of go-mail, never into a header as text, and must be a bare address.
// Once the server accepted the mail, Send calls accepted and only then
// ends the session (QUIT), so that the outcome is recorded as soon as it is
// known; it returns accepted's error.
func (s *SMTP) Send(ctx context.Context, m account.Mail, accepted func() error) error {
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(s.host, s.options()...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	addr := net.JoinHostPort(s.host, strconv.Itoa(s.port))
	if err := c.DialWithContext(ctx); err != nil {
		return fmt.Errorf("smtp %s: dial: %w", addr, err)
	}
	defer c.Close() // the mail is accepted or refused: QUIT's answer changes nothing
	if err := c.Send(msg); err != nil {
		return fmt.Errorf("smtp %s: send: %w", addr, err)
	}
	return accepted()
}

// message builds the MIME message of m: a text part and an HTML
// alternative.
func (s *SMTP) message(m account.Mail) (*gomail.Msg, error) {
	to, err := recipient(m.FirstName, m.To)
	if err != nil {
		return nil, err
	}
	r, err := s.content.render(m)
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	msg.ToMailAddress(to)
	msg.Subject(r.subject)
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID + "@" + s.idDomain)
	} else {
		msg.SetMessageID()
	}
	msg.SetDate()
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, r.text)
	msg.AddAlternativeString(gomail.TypeTextHTML, r.html)
	return msg, nil
}

func (s *SMTP) options() []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(Timeout),
		gomail.WithTLSPolicy(s.policy),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}),
	}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	}
	if s.user != "" {
		// Over TLS the best mechanism the server offers is chosen; on
		// loopback without TLS, PLAIN (go-mail allows it only there).
		auth := gomail.SMTPAuthAutoDiscover
		if isLoopback(s.host) && !s.implicit {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	return opts
}

// recipient returns the address to send to. addr must be a bare addr-spec
// (as account.NormalizeEmail makes them); name is only a display name.
func recipient(name, addr string) (*netmail.Address, error) {
	a, err := netmail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr || strings.ContainsAny(addr, "\r\n<>,;") {
		return nil, errors.New("mail recipient: not a bare e-mail address")
	}
	return &netmail.Address{Name: clean(name, 64), Address: addr}, nil
}

// clean drops control characters from text taken from users (names, user
// agents) and bounds its length.
func clean(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strings.TrimSpace(s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
