package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/sqlite"
	"github.com/cruxd/cruxd/internal/testenv"
)

// Production mode end to end: real cruxd processes, a real Mailpit, mail
// read back through Mailpit's API.

const (
	prodPublicURL = "https://accounts.example.com"
	gone          = "gone@cruxsupplier.com" // a deactivated account
	nobody        = "nobody@cruxsupplier.com"
	imported      = "imported@cruxsupplier.com" // an account with a legacy hash
	mailWait      = 60 * time.Second
)

var (
	mailTokenRE  = regexp.MustCompile(regexp.QuoteMeta(prodPublicURL+"/reset-password/#token=") + `([A-Za-z0-9]{20})\b`)
	mailCancelRE = regexp.MustCompile(regexp.QuoteMeta(prodPublicURL+"/reset-password/#revoke=") + `([A-Za-z0-9]{20})\b`)
)

// newProdDB returns a database file holding Roy (active, password royOldPW)
// and a deactivated account with the same password.
func newProdDB(t *testing.T) string {
	t.Helper()
	return cruxdtest.NewDB(t,
		cruxdtest.Account{Email: roy, FirstName: "Roy", Password: royOldPW},
		cruxdtest.Account{Email: gone, FirstName: "Gone", Password: royOldPW, Status: account.StatusDeactivated})
}

// startProd serves a production cruxd on db mailing through mp, in the
// test process.
func startProd(t *testing.T, db string, mp *testenv.Mailpit, args ...string) *cruxdtest.Process {
	t.Helper()
	return serve(t, prodArgs(db, mp, args...))
}

// prodArgs returns the arguments of a production cruxd on db mailing
// through mp, with args.
func prodArgs(db string, mp *testenv.Mailpit, args ...string) []string {
	return append([]string{"--mode", "production", "--db", db, "--public-url", prodPublicURL,
		"--smtp-url", mp.SMTPURL(), "--mail-from", "Crux Accounts <no-reply@example.com>"}, args...)
}

func askReset(t *testing.T, p *cruxdtest.Process, email string, header ...string) *cruxdtest.Response {
	t.Helper()
	return p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": email}, header...)
}

// mailOutcomes counts the outbox outcomes cruxd logged: sent, dropped,
// failed and gave up.
func mailOutcomes(p *cruxdtest.Process) map[string]int {
	log := p.Stderr()
	out := map[string]int{}
	for _, o := range []string{"sent", "dropped", "failed", "gave up"} {
		out[o] = strings.Count(log, `msg="mail `+o+`"`)
	}
	return out
}

// waitOutcomes polls cruxd's log until done(outcomes) holds.
func waitOutcomes(t *testing.T, p *cruxdtest.Process, what string, done func(map[string]int) bool) {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for !done(mailOutcomes(p)) {
		if time.Now().After(deadline) {
			t.Fatalf("outbox: %s not seen within %v; outcomes %v\nlog:\n%s", what, mailWait, mailOutcomes(p), p.Stderr())
		}
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
}

// mailedToken returns the reset token of the n-th (from 1) mail to addr,
// checking the link and the parts.
func mailedToken(t *testing.T, mp *testenv.Mailpit, addr string, n int) (string, testenv.MessageDetail) {
	t.Helper()
	msgs := mp.WaitMessage(t, addr, n, mailWait)
	d := mp.Message(t, msgs[n-1].ID)
	m := mailTokenRE.FindStringSubmatch(d.Text)
	if m == nil {
		t.Fatalf("mail %q has no %s/reset-password/#token= link:\n%s", d.Subject, prodPublicURL, d.Text)
	}
	tok := m[1]
	if !strings.Contains(strings.ReplaceAll(d.Text, "\r\n", "\n"), "\n"+tok+"\n") {
		t.Errorf("text part does not show the token on its own line:\n%s", d.Text)
	}
	if !strings.Contains(d.HTML, prodPublicURL+"/reset-password/#token="+tok) {
		t.Errorf("HTML part lacks the link:\n%s", d.HTML)
	}
	return tok, d
}

// mailedCancelToken returns the token of the "this wasn't me" link of the
// reset mail d, checking that both parts carry the link.
func mailedCancelToken(t *testing.T, d testenv.MessageDetail) string {
	t.Helper()
	m := mailCancelRE.FindStringSubmatch(d.Text)
	if m == nil {
		t.Fatalf("mail %q has no %s/reset-password/#revoke= link:\n%s", d.Subject, prodPublicURL, d.Text)
	}
	if !strings.Contains(d.HTML, prodPublicURL+"/reset-password/#revoke="+m[1]) {
		t.Errorf("HTML part lacks the revoke link:\n%s", d.HTML)
	}
	return m[1]
}

// sameResponse fails unless a and b have the same status, body and headers
// but Date and X-Request-Id.
func sameResponse(t *testing.T, what string, a, b *cruxdtest.Response) {
	t.Helper()
	strip := func(h http.Header) http.Header {
		h = h.Clone()
		h.Del("Date")
		h.Del("X-Request-Id")
		return h
	}
	if a.Status != b.Status || string(a.Body) != string(b.Body) || !maps.EqualFunc(strip(a.Header), strip(b.Header), func(x, y []string) bool {
		return strings.Join(x, "\n") == strings.Join(y, "\n")
	}) {
		t.Errorf("%s: responses differ:\n%d %v %s\n%d %v %s", what, a.Status, a.Header, a.Body, b.Status, b.Header, b.Body)
	}
}

// TestProductionReset: Reset Password answers a known, an unknown and a
// deactivated address byte for byte alike; only the known one gets a mail,
// whose token validates and completes; the password-changed notice follows.
func TestProductionReset(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	p := startProd(t, newProdDB(t), mp)

	known := askReset(t, p, roy)
	if known.Status != 200 || known.Map(t)["detail"] != account.MsgResetLinkSent || len(known.Map(t)) != 1 {
		t.Fatalf("known address: %d %s", known.Status, known.Body)
	}
	sameResponse(t, "known vs unknown", known, askReset(t, p, nobody))
	sameResponse(t, "known vs deactivated", known, askReset(t, p, gone))
	sameResponse(t, "known vs known, other spelling", known, askReset(t, p, "  RBreslawski@CruxSupplier.COM "))

	waitOutcomes(t, p, "4 messages handled", func(o map[string]int) bool { return o["sent"]+o["dropped"] == 4 })
	if o := mailOutcomes(p); o["sent"] != 2 || o["dropped"] != 2 {
		t.Fatalf("outcomes %v: want 2 sent, 2 dropped", o)
	}
	tok, d := mailedToken(t, mp, roy, 1)
	if d.Subject != "Reset your cruxd password" || d.From != "no-reply@example.com" || !strings.Contains(d.Text, "#revoke=") {
		t.Errorf("reset mail: subject %q from %q\n%s", d.Subject, d.From, d.Text)
	}
	for _, m := range mp.Messages(t) {
		if len(m.To) != 1 || m.To[0] != roy {
			t.Errorf("mail to %v: only %s may get mail", m.To, roy)
		}
	}
	if strings.Contains(p.Stderr(), tok) {
		t.Error("the log holds the reset token")
	}

	r := p.Do(t, "GET", "/organizations/complete-password/?token="+tok, nil)
	if r.Status != 200 || r.Map(t)["email"] != roy {
		t.Fatalf("validate mailed token: %d %s", r.Status, r.Body)
	}
	r = p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": tok},
		"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	if r.Status != 204 {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	msgs := mp.WaitMessage(t, roy, 3, mailWait)
	var notice *testenv.MessageDetail
	for _, m := range msgs {
		if strings.Contains(m.Subject, "password was changed") {
			d := mp.Message(t, m.ID)
			notice = &d
		}
	}
	if notice == nil {
		t.Fatalf("no password-changed mail among %v", msgs)
	}
	for _, want := range []string{"Firefox on Linux", "127.0.0.1", prodPublicURL + "/reset-password/", "UTC"} {
		if !strings.Contains(notice.Text, want) {
			t.Errorf("password-changed mail lacks %q:\n%s", want, notice.Text)
		}
	}
	if notice.HTML == "" {
		t.Error("password-changed mail has no HTML part")
	}
	if m := login(t, p, roy, newPW); m["auth_token"] == "" {
		t.Fatal("login with the new password")
	}
}

// TestProductionRevokeLink: the "this wasn't me" link carries a token of
// its own that cancels the request and does nothing else: it sets no
// password, and the reset token cannot cancel.
func TestProductionRevokeLink(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	p := startProd(t, newProdDB(t), mp)
	askReset(t, p, roy)
	tok, d := mailedToken(t, mp, roy, 1)
	cancel := mailedCancelToken(t, d)
	if r := p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": cancel}); r.Status != 404 {
		t.Fatalf("Create New Password with the revoke link's token: %d %s, want 404", r.Status, r.Body)
	}
	if r := p.Do(t, "GET", "/organizations/complete-password/?token="+cancel, nil); r.Status != 404 {
		t.Fatalf("Validate with the revoke link's token: %d %s, want 404", r.Status, r.Body)
	}
	if r := p.Do(t, "POST", "/organizations/revoke-password-reset/", map[string]string{"token": tok}); r.Status != 404 {
		t.Fatalf("revoke with the reset token: %d %s, want 404", r.Status, r.Body)
	}
	if r := p.Do(t, "GET", "/organizations/complete-password/?token="+tok, nil); r.Status != 200 {
		t.Fatalf("reset token after the refused attempts: %d %s, want 200", r.Status, r.Body)
	}
	if r := p.Do(t, "POST", "/organizations/revoke-password-reset/", map[string]string{"token": cancel}); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "GET", "/organizations/complete-password/?token="+tok, nil); r.Status != 404 {
		t.Fatalf("revoked token: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "POST", "/organizations/revoke-password-reset/", map[string]string{"token": cancel}); r.Status != 404 {
		t.Fatalf("second revoke: %d %s, want 404", r.Status, r.Body)
	}
}

// TestProductionMailSurvivesSMTPOutage: with Mailpit stopped the request
// still succeeds, the worker records failures and retries, and once Mailpit
// is back the mail arrives and its token works.
func TestProductionMailSurvivesSMTPOutage(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	p := startProd(t, newProdDB(t), mp, "--mail-retry-min", "100ms")
	mp.Stop(t)
	if r := askReset(t, p, roy); r.Status != 200 {
		t.Fatalf("reset with SMTP down: %d %s", r.Status, r.Body)
	}
	waitOutcomes(t, p, "a failed attempt", func(o map[string]int) bool { return o["failed"] >= 1 })
	mp.Start(t)
	tok, _ := mailedToken(t, mp, roy, 1)
	if r := p.Do(t, "GET", "/organizations/complete-password/?token="+tok, nil); r.Status != 200 {
		t.Fatalf("token mailed after the outage: %d %s", r.Status, r.Body)
	}
}

// TestProductionMailSurvivesRestart: a mail that could not be sent before
// cruxd stopped is sent by the next cruxd on the same database.
func TestProductionMailSurvivesRestart(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	db := newProdDB(t)
	p := startProd(t, db, mp, "--mail-retry-min", "100ms")
	mp.Stop(t)
	askReset(t, p, roy)
	waitOutcomes(t, p, "a failed attempt", func(o map[string]int) bool { return o["failed"] >= 1 })
	p.Stop(t)
	mp.Start(t)
	if n := len(mp.Messages(t)); n != 0 {
		t.Fatalf("%d messages before the restart", n)
	}
	p2 := startProd(t, db, mp, "--mail-retry-min", "100ms")
	tok, _ := mailedToken(t, mp, roy, 1)
	if r := p2.Do(t, "GET", "/organizations/complete-password/?token="+tok, nil); r.Status != 200 {
		t.Fatalf("token mailed after restart: %d %s", r.Status, r.Body)
	}
}

// TestProductionResetMailLimit: five requests for one address in an hour
// all get the same 200, and only three mails go out.
func TestProductionResetMailLimit(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	p := startProd(t, newProdDB(t), mp)
	first := askReset(t, p, roy)
	for range 4 {
		sameResponse(t, "request over the mail limit", first, askReset(t, p, roy))
	}
	waitOutcomes(t, p, "5 messages handled", func(o map[string]int) bool { return o["sent"]+o["dropped"] == 5 })
	if n := len(mp.WaitMessage(t, roy, 3, mailWait)); n != 3 {
		t.Fatalf("%d mails, want 3", n)
	}
	if o := mailOutcomes(p); o["sent"] != 3 || o["dropped"] != 2 {
		t.Errorf("outcomes %v", o)
	}
}

// inOneWindow runs try until one run falls within one fixed limit window
// of length w (the limits count per window, so a run that crosses a
// boundary proves nothing) and fails the test with that run's error.
func inOneWindow(t *testing.T, w time.Duration, try func(attempt int) error) {
	t.Helper()
	for attempt := 0; attempt < 3; attempt++ {
		start := time.Now().Truncate(w)
		err := try(attempt)
		if time.Now().Truncate(w).Equal(start) {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Logf("attempt %d crossed a %v window boundary; again", attempt, w)
	}
	t.Fatal("every attempt crossed a window boundary")
}

var secondsRE = regexp.MustCompile(`\d+ seconds`)

// throttled checks a 429 and returns it with its countdown blanked, so
// that two 429s can be compared even when a second ticked between them.
func throttled(r *cruxdtest.Response) (*cruxdtest.Response, error) {
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != 429 || err != nil || ra < 1 || ra > 900 ||
		!strings.Contains(string(r.Body), fmt.Sprintf("Expected available in %d seconds.", ra)) {
		return nil, fmt.Errorf("want 429 with Retry-After, got %d %v %s", r.Status, r.Header, r.Body)
	}
	c := &cruxdtest.Response{Status: r.Status, Header: r.Header.Clone(), Body: secondsRE.ReplaceAll(r.Body, []byte("N seconds"))}
	c.Header.Del("Retry-After")
	c.Header.Del("Content-Length")
	return c, nil
}

// TestProductionPerIPLimits: the 21st Reset Password call of a client IP in
// a minute and its 11th failed login get 429 with Retry-After, whatever the
// address.
func TestProductionPerIPLimits(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	p := startProd(t, newProdDB(t), mp, "--trusted-proxy", "127.0.0.1/32")
	addrs := []string{roy, nobody, gone}

	inOneWindow(t, time.Minute, func(attempt int) error {
		xff := fmt.Sprintf("198.51.100.%d", 10+attempt)
		for i := range 20 {
			if r := askReset(t, p, addrs[i%3], "X-Forwarded-For", xff); r.Status != 200 {
				return fmt.Errorf("reset call %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		var first *cruxdtest.Response
		for _, a := range addrs {
			r, err := throttled(askReset(t, p, a, "X-Forwarded-For", xff))
			if err != nil {
				return fmt.Errorf("reset call 21+ for %s: %v", a, err)
			}
			if first == nil {
				first = r
			}
			sameResponse(t, "429 for "+a, first, r)
		}
		return nil
	})

	inOneWindow(t, time.Minute, func(attempt int) error {
		xff := fmt.Sprintf("198.51.100.%d", 20+attempt)
		for i := range 10 { // ten different users: the per-account slow-down stays out of it
			r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{
				"username": fmt.Sprintf("user%d-%d@example.com", attempt, i), "password": "wrong password"}, "X-Forwarded-For", xff)
			if r.Status != 401 {
				return fmt.Errorf("failed login %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		var first *cruxdtest.Response
		for _, creds := range [][2]string{{nobody, "wrong password"}, {roy, "wrong password"}, {roy, royOldPW}} {
			r, err := throttled(p.Do(t, "POST", "/organizations/user-login/",
				map[string]string{"username": creds[0], "password": creds[1]}, "X-Forwarded-For", xff))
			if err != nil {
				return fmt.Errorf("login 11+ as %s: %v", creds[0], err)
			}
			if first == nil {
				first = r
			}
			sameResponse(t, "429 for "+creds[0], first, r)
		}
		return nil
	})
}

// TestProductionTrustedProxy: behind a trusted proxy the right-most
// untrusted X-Forwarded-For address is the client, so two clients have two
// budgets and a forged left-most entry changes nothing; without
// --trusted-proxy the header is ignored.
func TestProductionTrustedProxy(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	db := newProdDB(t)
	exhaust := func(p *cruxdtest.Process, xff string) error {
		for i := range 20 {
			if r := askReset(t, p, nobody, "X-Forwarded-For", xff); r.Status != 200 {
				return fmt.Errorf("call %d from %s: %d %s", i+1, xff, r.Status, r.Body)
			}
		}
		return nil
	}
	t.Run("trusted", func(t *testing.T) {
		p := startProd(t, db, mp, "--trusted-proxy", "127.0.0.1/32")
		inOneWindow(t, time.Minute, func(attempt int) error {
			a, b := fmt.Sprintf("203.0.113.%d", 10+attempt), fmt.Sprintf("203.0.113.%d", 20+attempt)
			if err := exhaust(p, a); err != nil {
				return err
			}
			if _, err := throttled(askReset(t, p, nobody, "X-Forwarded-For", a)); err != nil {
				return fmt.Errorf("21st call from %s: %v", a, err)
			}
			if _, err := throttled(askReset(t, p, nobody, "X-Forwarded-For", b+", "+a)); err != nil {
				return fmt.Errorf("forged left-most entry: %v", err)
			}
			if r := askReset(t, p, nobody, "X-Forwarded-For", b); r.Status != 200 {
				return fmt.Errorf("other client %s: %d %s", b, r.Status, r.Body)
			}
			return nil
		})
	})
	t.Run("untrusted", func(t *testing.T) {
		inOneWindow(t, time.Minute, func(attempt int) error {
			p := startProd(t, newProdDB(t), mp) // a fresh budget per attempt
			defer p.Stop(t)
			if err := exhaust(p, "203.0.113.30"); err != nil {
				return err
			}
			if _, err := throttled(askReset(t, p, nobody, "X-Forwarded-For", "203.0.113.31")); err != nil {
				return fmt.Errorf("X-Forwarded-For believed without --trusted-proxy: %v", err)
			}
			return nil
		})
	})
}

// TestProductionAccountThrottle: repeated failed logins for a username from
// one client slow that client down alike whether or not an account uses
// the username, the owner still logs in from another address, and a
// completed reset clears the throttle of the client that completed it.
func TestProductionAccountThrottle(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	p := startProd(t, newProdDB(t), mp, "--trusted-proxy", "127.0.0.1/32")
	limit := account.ProductionLimits.FailedLoginsPerUserIP
	login := func(user, pw, xff string) *cruxdtest.Response {
		return p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": user, "password": pw},
			"X-Forwarded-For", xff)
	}
	var royIP string
	inOneWindow(t, 15*time.Minute, func(attempt int) error {
		var first *cruxdtest.Response
		for i, user := range []string{roy, fmt.Sprintf("stranger%d@example.com", attempt)} {
			xff := fmt.Sprintf("192.0.2.%d", 10*attempt+i) // one IP per user: the IP limit stays out of it
			for j := range limit {
				if r := login(user, "wrong password", xff); r.Status != 401 {
					return fmt.Errorf("failed login %d as %s: %d %s", j+1, user, r.Status, r.Body)
				}
			}
			r, err := throttled(login(user, "wrong password", xff))
			if err != nil {
				return fmt.Errorf("login %d as %s: %v", limit+1, user, err)
			}
			if first == nil {
				first = r
			}
			sameResponse(t, "throttled member vs stranger", first, r)
			if user == roy {
				royIP = xff
			}
		}
		if _, err := throttled(login(roy, royOldPW, royIP)); err != nil {
			return fmt.Errorf("roy with the right password from the throttled client: %v", err)
		}
		return nil
	})
	if r := login(roy, royOldPW, "198.51.100.200"); r.Status != 200 {
		t.Fatalf("roy from another address: %d %s, want 200", r.Status, r.Body)
	}

	askReset(t, p, roy)
	tok, _ := mailedToken(t, mp, roy, 1)
	if r := p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": tok},
		"X-Forwarded-For", royIP); r.Status != 204 {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	if r := login(roy, newPW, royIP); r.Status != 200 {
		t.Fatalf("login after the reset: %d %s (the reset must clear the throttle)", r.Status, r.Body)
	}
}

// TestProductionRefusesToStart: production without --public-url or
// --smtp-url, or with a plain-http public URL on a public host, exits 2
// with one line and touches no database.
func TestProductionRefusesToStart(t *testing.T) {
	t.Parallel()
	bin := cruxdtest.Binary(t)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"no flags", []string{"--mode", "production"}, nil, "production needs --public-url and --smtp-url"},
		{"no smtp", []string{"--mode", "production", "--public-url", prodPublicURL}, nil, "production needs --public-url and --smtp-url"},
		{"no public url", []string{"--mode", "production", "--smtp-url", "smtp://127.0.0.1:1025"}, nil, "production needs --public-url and --smtp-url"},
		{"env", nil, []string{"CRUXD_MODE=production", "CRUXD_SMTP_URL=smtp://127.0.0.1:1025"}, "production needs --public-url and --smtp-url"},
		{"http public url", []string{"--mode", "production", "--public-url", "http://accounts.example.com", "--smtp-url", "smtp://127.0.0.1:1025"}, nil, "https"},
		{"bad smtp url", []string{"--mode", "production", "--public-url", prodPublicURL, "--smtp-url", "smtp://127.0.0.1:1025/x"}, nil, "smtp url"},
		{"smtp password not echoed", []string{"--mode", "production", "--public-url", prodPublicURL, "--smtp-url", "imap://u:hunter2@mail.example.com"}, nil, "scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "cruxd.db")
			cmd := exec.Command(bin, append(tc.args, "--db", db, "--addr", "127.0.0.1:0")...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tc.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			out := stderr.String()
			if code != 2 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "cruxd: ") || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, stderr %q: want exit 2 and one line about %q", code, out, tc.want)
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("stderr shows the SMTP password: %q", out)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("the database was touched: %v", err)
			}
		})
	}
	// Loopback may use plain http.
	mp := testenv.StartMailpit(t)
	serve(t, []string{"--mode", "production", "--db", filepath.Join(t.TempDir(), "cruxd.db"),
		"--public-url", "http://127.0.0.1:8443", "--smtp-url", mp.SMTPURL()}).Stop(t)
}

// TestProductionNoDemoData: production on an empty database seeds nothing.
func TestProductionNoDemoData(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	db := filepath.Join(t.TempDir(), "cruxd.db")
	p := startProd(t, db, mp)
	if r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": royOldPW}); r.Status != 401 {
		t.Errorf("demo login in production: %d %s", r.Status, r.Body)
	}
	if out := p.Stdout(); strings.Contains(out, "demo") || strings.Contains(out, roy) {
		t.Errorf("banner mentions demo accounts:\n%s", out)
	}
	p.Stop(t)
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var n int
	if err := store.View(context.Background(), func(tx account.Tx) (err error) { n, err = tx.CountUsers(context.Background()); return err }); err != nil || n != 0 {
		t.Errorf("production database holds %d users (%v)", n, err)
	}
}

// TestProductionTiming: Reset Password for a known, an unknown and a
// deactivated address, and a failed Login for an unknown user, a wrong
// password against an argon2id hash and against an imported, not yet
// migrated PBKDF2 hash, and a deactivated user, take indistinguishable
// time. It sends CRUXD_TIMING_N (default 100) interleaved requests of each
// kind, in a new random order every round, to a real production cruxd, logs
// the medians, and fails when the two-sample Kolmogorov–Smirnov test
// rejects "same distribution" for a pair at α = 0.001. Load on the machine
// falls on every kind alike, so this is a test of distributions, not of
// speed; at that α a pair alarms falsely once in a thousand runs, while a
// difference of work such as a legacy hash's (D = 0.92 at n = 60) stands far
// above the critical value (0.28 at n = 100). It is slow and meaningless
// under -race, so it runs only when asked for:
//
//	CRUXD_TIMING=1 go test -count=1 -run TestProductionTiming -v ./cmd/cruxd/
func TestProductionTiming(t *testing.T) {
	if os.Getenv("CRUXD_TIMING") != "1" || !strings.Contains(flag.Lookup("test.run").Value.String(), "Timing") {
		t.Skip("set CRUXD_TIMING=1 and -run TestProductionTiming to measure")
	}
	if raceBuild() {
		t.Skip("timings under -race mean nothing")
	}
	n := 100
	if v, err := strconv.Atoi(os.Getenv("CRUXD_TIMING_N")); err == nil && v > 0 {
		n = v
	}
	mp := testenv.StartMailpit(t)
	// Every request comes from its own client IP (X-Forwarded-For from a
	// trusted proxy), so the per-IP limits stay on but never trip; the
	// per-username limits are off, else the 6th (or 21st) wrong password
	// would measure a 429.
	// An account imported from Django and not yet migrated: its hash,
	// PBKDF2 with Django 5's 600,000 iterations, costs several times an
	// argon2id verification.
	db := cruxdtest.NewDB(t,
		cruxdtest.Account{Email: roy, FirstName: "Roy", Password: royOldPW},
		cruxdtest.Account{Email: gone, FirstName: "Gone", Password: royOldPW, Status: account.StatusDeactivated},
		cruxdtest.Account{Email: imported, FirstName: "Imported", Hash: djangoHash(t, djangoPW, 600_000)})
	// A process of its own, as deployed: its garbage collector settings
	// and its scheduler are not the test client's.
	p := cruxdtest.Start(t, prodArgs(db, mp, "--trusted-proxy", "127.0.0.1/32", "--limit-login-account", "0",
		"--limit-login-account-hour", "0"))
	client := &http.Client{Timeout: 30 * time.Second}
	var ip int
	timed := func(path, body string, want int) time.Duration {
		ip++
		req, err := http.NewRequest("POST", p.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", ip>>16&255, ip>>8&255, ip&255))
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		d := time.Since(start)
		resp.Body.Close()
		if err != nil || resp.StatusCode != want {
			t.Fatalf("POST %s %s: %d %v", path, body, resp.StatusCode, err)
		}
		return d
	}
	type kind struct {
		name, path, body string
		want             int
	}
	measure := func(title string, kinds []kind) {
		samples := make([][]time.Duration, len(kinds))
		order := make([]int, len(kinds))
		for i := range order {
			order[i] = i
		}
		for round := -20; round < n; round++ { // 20 rounds of warm-up
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, k := range order {
				d := timed(kinds[k].path, kinds[k].body, kinds[k].want)
				if round >= 0 {
					samples[k] = append(samples[k], d)
				}
			}
		}
		for i, k := range kinds {
			t.Logf("%s %-12s n=%d median %8.3f ms  p10 %8.3f  p90 %8.3f", title, k.name, len(samples[i]),
				ms(quantile(samples[i], 0.5)), ms(quantile(samples[i], 0.1)), ms(quantile(samples[i], 0.9)))
		}
		for i := range kinds {
			for j := i + 1; j < len(kinds); j++ {
				d := ksStatistic(samples[i], samples[j])
				nn, mm := float64(len(samples[i])), float64(len(samples[j]))
				// c(α) = sqrt(-ln(α/2)/2) = 1.949 for α = 0.001.
				crit := 1.949 * math.Sqrt((nn+mm)/(nn*mm))
				t.Logf("%s %s vs %s: Δmedian %+.3f ms, KS D = %.4f (critical value at α=0.001: %.4f, p ≈ %.3g)", title,
					kinds[i].name, kinds[j].name, ms(quantile(samples[i], 0.5)-quantile(samples[j], 0.5)),
					d, crit, ksPValue(d, nn, mm))
				if d > crit {
					t.Errorf("%s: %s and %s take distinguishable time: KS D = %.4f > %.4f", title, kinds[i].name, kinds[j].name, d, crit)
				}
			}
		}
	}
	js := func(k, v, k2, v2 string) string {
		b, _ := json.Marshal(map[string]string{k: v, k2: v2})
		return string(b)
	}
	reset := "/organizations/reset-password/"
	measure("reset", []kind{
		{"known", reset, `{"email": "` + roy + `"}`, 200},
		{"unknown", reset, `{"email": "` + nobody + `"}`, 200},
		{"deactivated", reset, `{"email": "` + gone + `"}`, 200},
	})
	loginPath := "/organizations/user-login/"
	measure("login", []kind{
		{"unknown", loginPath, js("username", nobody, "password", "wrong password"), 401},
		{"wrong-pw", loginPath, js("username", roy, "password", "wrong password"), 401},
		{"legacy-wrong", loginPath, js("username", imported, "password", "wrong password"), 401},
		{"deactivated", loginPath, js("username", gone, "password", royOldPW), 401},
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile returns the q-quantile of xs (nearest rank).
func quantile(xs []time.Duration, q float64) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// ksStatistic returns the two-sample Kolmogorov–Smirnov statistic: the
// largest distance between the two empirical distribution functions.
func ksStatistic(a, b []time.Duration) float64 {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	var i, j int
	var d float64
	for i < len(a) && j < len(b) {
		x := min(a[i], b[j])
		for i < len(a) && a[i] == x {
			i++
		}
		for j < len(b) && b[j] == x {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

// ksPValue is the asymptotic p-value of the statistic d for samples of n
// and m (Kolmogorov distribution with Stephens' correction).
func ksPValue(d, n, m float64) float64 {
	ne := n * m / (n + m)
	l := (math.Sqrt(ne) + 0.12 + 0.11/math.Sqrt(ne)) * d
	var p float64
	for k := 1; k <= 100; k++ {
		term := 2 * math.Pow(-1, float64(k-1)) * math.Exp(-2*float64(k*k)*l*l)
		p += term
		if math.Abs(term) < 1e-10 {
			break
		}
	}
	return min(max(p, 0), 1)
}

// raceBuild reports whether this test binary was built with -race.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}
