package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MailpitModule is what StartMailpit installs with `go install` when no
// mailpit binary is found.
const MailpitModule = "github.com/axllent/mailpit@v1.33.1"

const (
	mailpitStartTimeout   = 30 * time.Second
	mailpitStopTimeout    = 15 * time.Second
	mailpitInstallTimeout = 10 * time.Minute
)

// Mailpit is a real SMTP server whose received mail tests read back through
// Mailpit's HTTP API.
type Mailpit struct {
	smtpPort int
	httpPort int
	srv      server
	client   *http.Client
}

// Message summarizes one received message. Addresses are bare addresses
// without display names.
type Message struct {
	ID        string // Mailpit's database ID, for Message
	MessageID string // the Message-ID header
	From      string
	To        []string
	Cc        []string
	Bcc       []string // envelope recipients not named in To or Cc
	Subject   string
	Created   time.Time // when Mailpit received it
}

// MessageDetail is one received message in full.
type MessageDetail struct {
	ID        string
	MessageID string
	From      string
	To        []string
	Cc        []string
	Subject   string
	Date      time.Time
	Text      string // the text/plain body
	HTML      string // the text/html body
	Headers   textproto.MIMEHeader
}

// StartMailpit starts a private Mailpit on free ports of 127.0.0.1 and kills
// it when the test ends. It accepts AUTH with any credentials, without TLS.
// A missing mailpit binary is installed with `go install` first; if that
// fails the test fails in CI and skips elsewhere.
func StartMailpit(tb testing.TB) *Mailpit {
	tb.Helper()
	bin, err := mailpitBinary()
	if err != nil {
		unavailable(tb, "Mailpit", err.Error())
	}
	dir := tb.TempDir()
	m := &Mailpit{
		srv: server{
			path:    bin,
			dir:     dir,
			logPath: filepath.Join(dir, "mailpit.log"),
			stopSig: syscall.SIGTERM,
		},
		client: &http.Client{Timeout: 10 * time.Second},
	}
	tb.Cleanup(m.srv.kill)
	for attempt := 1; ; attempt++ {
		if m.smtpPort, err = freePort(); err != nil {
			break
		}
		if m.httpPort, err = freePort(); err != nil {
			break
		}
		m.srv.args = []string{
			"--smtp", m.smtpAddr(),
			"--listen", m.httpAddr(),
			"--database", filepath.Join(dir, "mailpit.db"),
			"--smtp-auth-accept-any",
			"--smtp-auth-allow-insecure",
			"--disable-version-check",
			"--max", "0", // keep every message
		}
		err = m.start()
		// Another process may have taken a port between freePort and bind.
		if err == nil || !errors.Is(err, errExited) || attempt == 3 {
			break
		}
	}
	if err != nil {
		tb.Fatalf("testenv: start Mailpit: %v", err)
	}
	return m
}

// SMTPURL returns smtp://127.0.0.1:PORT.
func (m *Mailpit) SMTPURL() string { return "smtp://" + m.smtpAddr() }

// SMTPAddr returns 127.0.0.1:PORT, the SMTP address for net/smtp.
func (m *Mailpit) SMTPAddr() string { return m.smtpAddr() }

// Stop stops Mailpit and returns once its SMTP and HTTP ports refuse
// connections. Received messages are kept for Start.
func (m *Mailpit) Stop(tb testing.TB) {
	tb.Helper()
	if err := m.srv.stop(mailpitStopTimeout); err != nil {
		tb.Fatalf("testenv: stop Mailpit: %v", err)
	}
	err := waitUntil(mailpitStopTimeout, nil, func() error {
		return errors.Join(portRefuses(m.smtpAddr()), portRefuses(m.httpAddr()))
	})
	if err != nil {
		tb.Fatalf("testenv: stop Mailpit: %v", err)
	}
}

// Start starts a stopped Mailpit again on the same ports with the messages
// it had, and returns once it answers.
func (m *Mailpit) Start(tb testing.TB) {
	tb.Helper()
	if err := m.start(); err != nil {
		tb.Fatalf("testenv: restart Mailpit: %v", err)
	}
}

// Messages returns all received messages, oldest first.
func (m *Mailpit) Messages(tb testing.TB) []Message {
	tb.Helper()
	msgs, err := m.list("/api/v1/messages", nil)
	if err != nil {
		tb.Fatalf("testenv: list Mailpit messages: %v", err)
	}
	return msgs
}

// WaitMessage polls until at least n messages to the address to (in To, Cc
// or the envelope) were received and returns all of them, oldest first. It
// fails the test if that takes longer than timeout.
func (m *Mailpit) WaitMessage(tb testing.TB, to string, n int, timeout time.Duration) []Message {
	tb.Helper()
	query := url.Values{"query": {fmt.Sprintf("to:%q", to)}}
	var found []Message
	err := waitUntil(timeout, m.srv.exited, func() error {
		msgs, err := m.list("/api/v1/search", query)
		if err != nil {
			return err
		}
		// The search matches substrings; keep exact recipients only.
		found = slices.DeleteFunc(msgs, func(msg Message) bool { return !msg.sentTo(to) })
		if len(found) < n {
			return fmt.Errorf("%d of %d messages to %s received", len(found), n, to)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("testenv: wait for Mailpit messages: %v", err)
	}
	return found
}

// Message returns the message with Mailpit's database ID id.
func (m *Mailpit) Message(tb testing.TB, id string) MessageDetail {
	tb.Helper()
	var raw struct {
		ID, MessageID, Subject, Text, HTML string
		From                               *mailpitAddress
		To, Cc                             []mailpitAddress
		Date                               time.Time
	}
	path := "/api/v1/message/" + url.PathEscape(id)
	if err := m.getJSON(path, nil, &raw); err != nil {
		tb.Fatalf("testenv: get Mailpit message: %v", err)
	}
	var headers map[string][]string
	if err := m.getJSON(path+"/headers", nil, &headers); err != nil {
		tb.Fatalf("testenv: get Mailpit message headers: %v", err)
	}
	d := MessageDetail{
		ID: raw.ID, MessageID: raw.MessageID, Subject: raw.Subject,
		From: raw.From.address(), To: addresses(raw.To), Cc: addresses(raw.Cc),
		Date: raw.Date, Text: raw.Text, HTML: raw.HTML,
		Headers: make(textproto.MIMEHeader, len(headers)),
	}
	for k, vs := range headers {
		key := textproto.CanonicalMIMEHeaderKey(k)
		d.Headers[key] = append(d.Headers[key], vs...)
	}
	return d
}

// DeleteAll deletes every received message.
func (m *Mailpit) DeleteAll(tb testing.TB) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodDelete, m.apiURL("/api/v1/messages", nil), nil)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	if _, err := m.do(req); err != nil {
		tb.Fatalf("testenv: delete Mailpit messages: %v", err)
	}
}

func (m *Mailpit) smtpAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.smtpPort)) }
func (m *Mailpit) httpAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.httpPort)) }

func (m *Mailpit) apiURL(path string, query url.Values) string {
	u := url.URL{Scheme: "http", Host: m.httpAddr(), Path: path, RawQuery: query.Encode()}
	return u.String()
}

// start starts the process and waits until both its HTTP API and its SMTP
// port answer.
func (m *Mailpit) start() error {
	if err := m.srv.start(); err != nil {
		return err
	}
	err := waitUntil(mailpitStartTimeout, m.srv.exited, func() error {
		var info struct{ Version string }
		if err := m.getJSON("/api/v1/info", nil, &info); err != nil {
			return err
		}
		return portAccepts(m.smtpAddr())
	})
	if err != nil {
		m.srv.kill()
		return fmt.Errorf("mailpit on smtp %s, http %s: %w\nlog:\n%s",
			m.smtpAddr(), m.httpAddr(), err, tail(m.srv.logPath, 2000))
	}
	return nil
}

// list fetches every page of a message list endpoint, oldest first.
func (m *Mailpit) list(path string, query url.Values) ([]Message, error) {
	const pageSize = 250
	var all []Message
	seen := map[string]bool{}
	for start := 0; ; start += pageSize {
		q := url.Values{"start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(pageSize)}}
		for k, v := range query {
			q[k] = v
		}
		var page struct {
			MessagesCount int `json:"messages_count"`
			Messages      []struct {
				ID, MessageID, Subject string
				From                   *mailpitAddress
				To, Cc, Bcc            []mailpitAddress
				Created                time.Time
			} `json:"messages"`
		}
		if err := m.getJSON(path, q, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Messages {
			if seen[r.ID] { // a message arrived while paging and shifted the list
				continue
			}
			seen[r.ID] = true
			all = append(all, Message{
				ID: r.ID, MessageID: r.MessageID, Subject: r.Subject,
				From: r.From.address(), To: addresses(r.To), Cc: addresses(r.Cc), Bcc: addresses(r.Bcc),
				Created: r.Created,
			})
		}
		if len(page.Messages) < pageSize || start+pageSize >= page.MessagesCount {
			break
		}
	}
	slices.Reverse(all) // Mailpit lists newest first
	return all, nil
}

func (m *Mailpit) getJSON(path string, query url.Values, v any) error {
	req, err := http.NewRequest(http.MethodGet, m.apiURL(path, query), nil)
	if err != nil {
		return err
	}
	body, err := m.do(req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %s: %w", req.URL.Path, err)
	}
	return nil
}

// do sends req and returns the body of a 200 answer.
func (m *Mailpit) do(req *http.Request) ([]byte, error) {
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

type mailpitAddress struct{ Name, Address string }

func (a *mailpitAddress) address() string {
	if a == nil {
		return ""
	}
	return a.Address
}

func addresses(as []mailpitAddress) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Address)
	}
	return out
}

// sentTo reports whether addr is among the message's recipients.
func (msg Message) sentTo(addr string) bool {
	for _, list := range [][]string{msg.To, msg.Cc, msg.Bcc} {
		for _, a := range list {
			if strings.EqualFold(a, addr) {
				return true
			}
		}
	}
	return false
}

// mailpitInstall makes at most one install attempt per test process.
var mailpitInstall struct {
	once sync.Once
	path string
	err  error
}

// mailpitBinary finds mailpit on PATH or in Go's bin directory, installing
// it there with `go install` if it is in neither.
func mailpitBinary() (string, error) {
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	mailpitInstall.once.Do(func() {
		mailpitInstall.path, mailpitInstall.err = installMailpit()
	})
	return mailpitInstall.path, mailpitInstall.err
}

func installMailpit() (string, error) {
	gobin, err := goBinDir()
	if err != nil {
		return "", fmt.Errorf("mailpit not found on PATH and %v", err)
	}
	bin := filepath.Join(gobin, "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	// Test binaries of several packages run at once: let one install.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "cruxd-mailpit-install.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return "", fmt.Errorf("open mailpit install lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock mailpit install: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // installed while we waited for the lock
	}
	ctx, cancel := context.WithTimeout(context.Background(), mailpitInstallTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "install", MailpitModule)
	cmd.Dir = os.TempDir() // outside any module
	// GOFLAGS meant for this module (such as -modfile) would break the install.
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("mailpit not found and `go install %s` failed: %v\n%s", MailpitModule, err, out)
	}
	fmt.Fprintf(os.Stderr, "testenv: installed %s into %s in %v\n", MailpitModule, gobin, time.Since(start).Round(time.Second))
	return bin, nil
}

// goBinDir returns where `go install` puts binaries: GOBIN, or the first
// GOPATH entry's bin.
func goBinDir() (string, error) {
	cmd := exec.Command("go", "env", "GOBIN", "GOPATH")
	cmd.Dir = os.TempDir()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("`go env` failed: %w", err)
	}
	gobin, gopath, _ := strings.Cut(strings.TrimRight(string(out), "\n"), "\n")
	if gobin != "" {
		return gobin, nil
	}
	if gopath == "" {
		return "", errors.New("`go env GOPATH` is empty")
	}
	return filepath.Join(filepath.SplitList(gopath)[0], "bin"), nil
}
