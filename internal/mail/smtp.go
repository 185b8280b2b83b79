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
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/cruxd/cruxd/internal/account"
)

// Timeout bounds each SMTP conversation step: the dial with its greeting,
// and each command after it.
const Timeout = 10 * time.Second

// Sessions of one SMTP connection.
const (
	// sessionMails is how many mails one connection carries before it is
	// closed and another dialled: a long-lived session is cheap, but some
	// servers refuse more mails per connection than a few dozen.
	sessionMails = 100
	// sessionIdle is how long an unused connection is kept for the next
	// mail; servers drop idle clients after minutes (RFC 5321 asks for 5).
	sessionIdle = 30 * time.Second
)

// SMTP sends mail through one SMTP server. It is safe for concurrent use:
// a Send takes a connection of its own, reusing one that an earlier Send
// left open, so that a steady flow of mail does not pay a dial, a greeting
// and a TLS handshake per mail. Close ends the connections left open.
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

	mu     sync.Mutex
	idle   []*session // open connections, the most recently used last
	closed bool
	slots  chan struct{} // one per connection in use; nil: no bound
}

// LimitConnections bounds the connections open at once to n: a Send
// beyond them renders its mail, then waits for one. (Only a Send dials,
// and only when no connection is idle, so n in use bounds those open.)
// Call it before the first Send.
func (s *SMTP) LimitConnections(n int) { s.slots = make(chan struct{}, n) }

// session is one open SMTP connection and how many mails it carried.
type session struct {
	c    *gomail.Client
	sent int
	used time.Time // when it was last put back
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
// Once the server accepted the mail (its 250 to the mail's data), Send
// calls accepted before the connection serves anything else, and returns
// accepted's error; any other error means that the server did not accept
// the mail.
//
// The mail goes over an open connection when one is idle. A server that
// dropped it, or refuses another mail on it, says so at MAIL FROM, before
// any of the mail was sent; then the mail is sent once more over a new
// connection, so that a closed idle connection never fails a mail. (So
// go-mail's NOOP before each mail, a round trip, is left out.)
func (s *SMTP) Send(ctx context.Context, m account.Mail, accepted func() error) error {
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort(s.host, strconv.Itoa(s.port))
	ses, reused, err := s.take(ctx)
	if err != nil {
		return fmt.Errorf("smtp %s: dial: %w", addr, err)
	}
	defer s.release() // after the session is put back or closed
	err = ses.c.Send(msg)
	if err != nil && reused && !msg.IsDelivered() && beforeMail(err) {
		ses.close()
		if ses, err = s.dial(ctx); err != nil {
			return fmt.Errorf("smtp %s: dial: %w", addr, err)
		}
		err = ses.c.Send(msg)
	}
	if !msg.IsDelivered() {
		ses.close() // in an unknown state
		return fmt.Errorf("smtp %s: send: %w", addr, err)
	}
	// Accepted. go-mail's RSET after it may have failed: the connection
	// is then not reused, and the mail stays accepted.
	ses.sent++
	if err == nil && ses.sent < sessionMails {
		defer s.put(ses)
	} else {
		defer ses.close()
	}
	return accepted()
}

// beforeMail reports whether err says that the server refused a mail
// before any of it was sent: the connection was found dead, or MAIL FROM
// was refused.
func beforeMail(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && (se.Reason == gomail.ErrConnCheck || se.Reason == gomail.ErrSMTPMailFrom)
}

// take returns an idle connection recently used, or a new one, once the
// connection limit allows.
func (s *SMTP) take(ctx context.Context) (ses *session, reused bool, err error) {
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		defer func() {
			if err != nil {
				s.release()
			}
		}()
	}
	s.mu.Lock()
	var stale []*session
	for len(s.idle) > 0 && ses == nil {
		last := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(last.used) < sessionIdle {
			ses = last
		} else {
			stale = append(stale, last)
		}
	}
	s.mu.Unlock()
	for _, st := range stale {
		st.close()
	}
	if ses != nil {
		return ses, true, nil
	}
	ses, err = s.dial(ctx)
	return ses, false, err
}

// dial opens a new connection: greeting, EHLO, STARTTLS and AUTH as
// configured.
func (s *SMTP) dial(ctx context.Context) (*session, error) {
	c, err := gomail.NewClient(s.host, s.options()...)
	if err != nil {
		return nil, err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return nil, err
	}
	return &session{c: c}, nil
}

// release frees the connection slot a take got.
func (s *SMTP) release() {
	if s.slots != nil {
		<-s.slots
	}
}

// put keeps ses open for the next Send, or closes it once Close was called.
func (s *SMTP) put(ses *session) {
	ses.used = time.Now()
	s.mu.Lock()
	if !s.closed {
		s.idle = append(s.idle, ses)
		ses = nil
	}
	s.mu.Unlock()
	if ses != nil {
		ses.close()
	}
}

// Close ends the idle connections (QUIT) and those that Sends in progress
// would keep. Sends after Close still work, each on its own connection.
func (s *SMTP) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	for _, ses := range idle {
		ses.close()
	}
	return nil
}

// close ends the session; QUIT's answer changes nothing.
func (ses *session) close() { _ = ses.c.Close() }

// Render returns the subject, text part and HTML part of m, as Send
// would send them; cruxbench sends the same from a bare client.
func (s *SMTP) Render(m account.Mail) (subject, text, html string, err error) {
	r, err := s.content.render(m)
	if err != nil {
		return "", "", "", err
	}
	return r.subject, r.text, r.html, nil
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
		gomail.WithoutNoop(),
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
