package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

// hostileReadTimeout is the --read-timeout the slow-client tests run with.
const hostileReadTimeout = time.Second

// stillServing fails the test unless a normal call (Roy's login, which
// production's per-IP reset limit does not count) succeeds.
func stillServing(t *testing.T, p *cruxdtest.Process) {
	t.Helper()
	r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": royOldPW})
	if r.Status != 200 {
		t.Fatalf("normal request after hostile input: %d %s", r.Status, r.Body)
	}
}

// TestSlowClients: slowloris clients that trickle their headers or their body
// are cut off by the read timeout, while a normal client is served meanwhile.
func TestSlowClients(t *testing.T) {
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"), "--read-timeout", hostileReadTimeout.String())
	const slow = 40 // slow connections of each kind at once

	trickle := func(prefix, drip string) (time.Duration, string) {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer c.Close()
		start := time.Now()
		if _, err := io.WriteString(c, prefix); err != nil {
			t.Error(err)
			return 0, ""
		}
		// Drip one byte every 100ms; stop when the server hangs up.
		closed := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(c)
			closed <- string(b)
		}()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		giveUp := time.After(10 * hostileReadTimeout)
		for i := 0; ; i++ {
			select {
			case got := <-closed:
				return time.Since(start), got
			case <-tick.C:
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write([]byte{drip[i%len(drip)]})
			case <-giveUp:
				t.Errorf("a slow client was still connected after %v", time.Since(start))
				return time.Since(start), ""
			}
		}
	}

	var served, failed atomic.Int64
	stop := make(chan struct{})
	var normal sync.WaitGroup
	normal.Add(1)
	go func() { // a normal client, all along
		defer normal.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			resp, err := cruxdtest.Client.Get(p.URL + "/organizations/complete-password/?token=AAAAAAAAAAAAAAAAAAAA")
			if err != nil || resp.StatusCode != 404 {
				failed.Add(1)
			} else {
				served.Add(1)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
	}()

	type result struct {
		kind string
		d    time.Duration
		resp string
	}
	results := make(chan result, 2*slow)
	var wg sync.WaitGroup
	for range slow {
		wg.Add(2)
		go func() {
			defer wg.Done()
			d, got := trickle("POST /organizations/reset-password/ HTTP/1.1\r\nHost: x\r\n", "X-Slow: aaaaaaaaaaaaaaaaaaaa\r\n")
			results <- result{"header", d, got}
		}()
		go func() {
			defer wg.Done()
			d, got := trickle("POST /organizations/reset-password/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", `{"email": "`)
			results <- result{"body", d, got}
		}()
	}
	wg.Wait()
	close(stop)
	normal.Wait()
	close(results)

	var longest time.Duration
	for r := range results {
		longest = max(longest, r.d)
		if r.d > hostileReadTimeout+2*time.Second {
			t.Errorf("slow %s client cut off after %v; want about %v", r.kind, r.d, hostileReadTimeout)
		}
		if r.d < hostileReadTimeout/2 {
			t.Errorf("slow %s client cut off after only %v", r.kind, r.d)
		}
		// An answer, if any, is a 4xx; usually the server just hangs up.
		if r.resp != "" && !strings.HasPrefix(r.resp, "HTTP/1.1 4") && !strings.HasPrefix(r.resp, "HTTP/1.0 4") {
			t.Errorf("slow %s client got %q", r.kind, firstLine(r.resp))
		}
	}
	t.Logf("%d slow-header and %d slow-body clients cut off within %v (read timeout %v); normal client: %d served, %d failed",
		slow, slow, longest.Round(10*time.Millisecond), hostileReadTimeout, served.Load(), failed.Load())
	if failed.Load() > 0 || served.Load() < 10 {
		t.Errorf("normal client: %d served, %d failed while slow clients were connected", served.Load(), failed.Load())
	}
	stillServing(t, p)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// rawExchange writes req on a fresh connection while reading the answer, so
// that a server refusing a huge request early is heard.
func rawExchange(t *testing.T, addr string, req []byte) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { c.Write(req) }() // fails once the server hangs up; that is fine
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a %d-byte request: %v", len(req), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp, body
}

// TestHugeHeaders: 2 MB of headers get 431 and the server keeps serving.
func TestHugeHeaders(t *testing.T) {
	t.Parallel()
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"))
	big := strings.Repeat("a", 2<<20)
	for name, head := range map[string]string{
		"one header":    "X-Big: " + big + "\r\n",
		"many headers":  strings.Repeat("X-Many: "+strings.Repeat("b", 1000)+"\r\n", 2<<10),
		"huge cookie":   "Cookie: c=" + big + "\r\n",
		"huge uri":      "",
		"huge auth":     "Authorization: Token " + big + "\r\n",
		"huge req id":   "X-Request-Id: " + big + "\r\n",
		"huge xff":      "X-Forwarded-For: " + strings.Repeat("1.2.3.4, ", 2<<18) + "\r\n",
		"huge ctype":    "Content-Type: application/json; x=" + big + "\r\n",
		"huge agent":    "User-Agent: " + big + "\r\n",
		"huge encoding": "Transfer-Encoding: " + strings.Repeat("chunked, ", 2<<17) + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := "/organizations/reset-password/"
			if head == "" {
				path += "?q=" + big
			}
			req := "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + head + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
			resp, _ := rawExchange(t, p.Addr, []byte(req))
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("%d bytes of headers: %s; want 431", len(req), resp.Status)
			}
			stillServing(t, p)
		})
	}
}

// TestHostileBodies: each hostile request gets a clear 4xx (and JSON) and a
// normal request succeeds right after it, in sandbox and production.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	type tc struct {
		name, method, path, ctype, body string
		want                            int
	}
	mb := strings.Repeat("a", 1<<20)
	cases := []tc{
		{"nested 100000 deep", "POST", "/organizations/reset-password/", "", `{"email": ` + deep(100000) + `}`, 413},
		{"nested 100000 deep object", "POST", "/organizations/reset-password/", "", strings.Repeat(`{"a":`, 100000) + strings.Repeat("}", 100000), 413},
		{"nested 30000 deep (within 64 KiB)", "POST", "/organizations/reset-password/", "", `{"email": ` + deep(30000) + `}`, 400},
		{"nested 30000 deep token", "POST", "/organizations/complete-password/", "", `{"token": ` + deep(30000) + `, "password": "x"}`, 400},
		{"nested deep validate body", "GET", "/organizations/complete-password/", "", `{"token": ` + deep(30000) + `}`, 400},
		{"invalid UTF-8", "POST", "/organizations/reset-password/", "", "{\"email\": \"mr\xffbailey@projectthanos.com\"}", 400},
		{"invalid UTF-8 in a key", "POST", "/organizations/user-login/", "", "{\"user\xc0name\": \"a\", \"password\": \"b\"}", 400},
		{"lone surrogate escape", "POST", "/organizations/reset-password/", "", `{"email": "\ud800@b.c"}`, 400},
		{"duplicate keys", "POST", "/organizations/reset-password/", "", `{"email": "mrbailey@projectthanos.com", "email": "rbreslawski@cruxsupplier.com"}`, 400},
		{"duplicate token", "POST", "/organizations/complete-password/", "", `{"token": "AAAAAAAAAAAAAAAAAAAA", "token": "BBBBBBBBBBBBBBBBBBBB", "password": "x"}`, 400},
		{"number for e-mail", "POST", "/organizations/reset-password/", "", `{"email": 12}`, 400},
		{"number for password", "POST", "/organizations/user-login/", "", `{"username": "rbreslawski@cruxsupplier.com", "password": 123456789012345}`, 400},
		{"number for token", "GET", "/organizations/complete-password/", "", `{"token": 12345678901234567890}`, 400},
		{"object for e-mail", "POST", "/organizations/reset-password/", "", `{"email": {"$ne": null}}`, 400},
		{"bool for token", "POST", "/organizations/complete-password/", "", `{"token": true, "password": "x"}`, 400},
		{"null body", "POST", "/organizations/reset-password/", "", `null`, 400},
		{"null e-mail", "POST", "/organizations/reset-password/", "", `{"email": null}`, 400},
		{"array body", "POST", "/organizations/reset-password/", "", `[{"email": "rbreslawski@cruxsupplier.com"}]`, 400},
		{"array body login", "POST", "/organizations/user-login/", "", `["rbreslawski@cruxsupplier.com", "thanos_rocks"]`, 400},
		{"string body", "POST", "/organizations/complete-password/", "", `"x"`, 400},
		{"trailing garbage", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com"} x`, 400},
		{"1 MB e-mail", "POST", "/organizations/reset-password/", "", `{"email": "` + mb + `@b.c"}`, 413},
		{"1 MB password", "POST", "/organizations/user-login/", "", `{"username": "rbreslawski@cruxsupplier.com", "password": "` + mb + `"}`, 413},
		{"60 KB token query", "GET", "/organizations/complete-password/?token=" + strings.Repeat("A", 60000), "", "", 404},
		{"long e-mail under 64 KiB", "POST", "/organizations/reset-password/", "", `{"email": "` + strings.Repeat("a", 60000) + `@b.c"}`, 400},
		{"CRLF Bcc injection", "POST", "/organizations/reset-password/", "", `{"email": "a@b.c\r\nBcc: x@y.z"}`, 400},
		{"LF Bcc injection", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com\nBcc: x@y.z"}`, 400},
		{"NUL in e-mail", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com\u0000"}`, 400},
		{"tab in e-mail", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com\tBcc: x@y.z"}`, 400},
		{"line separator in e-mail", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com\u2028Bcc: x@y.z"}`, 400},
		{"display name", "POST", "/organizations/reset-password/", "", `{"email": "Bcc: x@y.z <rbreslawski@cruxsupplier.com>"}`, 400},
		{"address list", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com, x@y.z"}`, 400},
		{"encoded word", "POST", "/organizations/reset-password/", "", `{"email": "=?utf-8?q?=0D=0ABcc:_x@y.z?=@cruxsupplier.com"}`, 400},
		{"control char login", "POST", "/organizations/user-login/", "", `{"username": "rbreslawski@cruxsupplier.com\r\nX: y", "password": "thanos_rocks"}`, 401},
		{"wrong media type", "POST", "/organizations/reset-password/", "text/plain", `{"email": "rbreslawski@cruxsupplier.com"}`, 415},
		{"form body", "POST", "/organizations/user-login/", "application/x-www-form-urlencoded", `username=a&password=b`, 415},
	}
	run := func(t *testing.T, p *cruxdtest.Process) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ct := c.ctype
				if ct == "" {
					ct = "application/json"
				}
				var body any
				if c.body != "" {
					body = c.body
				}
				r := p.Do(t, c.method, c.path, body, "Content-Type", ct)
				if r.Status != c.want {
					t.Errorf("%d %s; want %d", r.Status, truncateBody(r.Body), c.want)
				}
				if r.Header.Get("Content-Type") != "application/json" || !bytes.HasPrefix(r.Body, []byte("{")) {
					t.Errorf("answer is not a JSON object: %s %s", r.Header.Get("Content-Type"), truncateBody(r.Body))
				}
				stillServing(t, p)
			})
		}
	}
	t.Run("sandbox", func(t *testing.T) {
		run(t, startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db")))
	})
	t.Run("production", func(t *testing.T) {
		mp := testenv.StartMailpit(t)
		db := seededDB(t)
		// stillServing logs in after every case, more often than one client
		// may a minute.
		p := serve(t, []string{"--db", db, "--mode", "production", "--public-url", "http://127.0.0.1:1",
			"--smtp-url", mp.SMTPURL(), "--limit-login-calls", "0"})
		run(t, p)
	})
}

func truncateBody(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// seededDB returns a SQLite database holding the sandbox demo accounts, for
// production tests: production seeds nothing.
func seededDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "cruxd.db")
	p := startSandbox(t, db)
	p.Stop(t)
	return db
}

// TestNoMailHeaderInjection proves with a real SMTP server that no request
// can add a recipient or a header to a mail cruxd sends: hostile addresses
// are refused, and hostile request metadata that a mail may quote (the
// User-Agent) stays in the body.
func TestNoMailHeaderInjection(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	db := seededDB(t)
	p := serve(t, []string{"--db", db, "--mode", "production", "--public-url", "http://127.0.0.1:1",
		"--smtp-url", mp.SMTPURL()})
	for _, e := range []string{
		"a@b.c\r\nBcc: x@y.z", roy + "\r\nBcc: x@y.z", roy + "\nBcc: x@y.z", roy + "\r\n\r\nBody", roy + ", x@y.z",
		"x@y.z <" + roy + ">", roy + "\u2028Bcc: x@y.z", "=?utf-8?q?=0D=0ABcc:_x@y.z?=@cruxsupplier.com",
	} {
		r := p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": e})
		if r.Status != 400 {
			t.Errorf("reset for %q: %d %s; want 400", e, r.Status, r.Body)
		}
	}
	ua := "evil\u2028Bcc: x@y.z\u0085Subject: pwned =?utf-8?q?=0D=0ABcc:_x@y.z?="
	r := p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": roy}, "User-Agent", ua)
	if r.Status != 200 {
		t.Fatalf("reset for roy: %d %s", r.Status, r.Body)
	}
	msgs := mp.WaitMessage(t, roy, 1, 30*time.Second)
	time.Sleep(2 * time.Second) // anything else cruxd might send
	for _, m := range mp.Messages(t) {
		if len(m.To) != 1 || m.To[0] != roy || len(m.Cc) != 0 || len(m.Bcc) != 0 {
			t.Errorf("mail %q went to To %v Cc %v Bcc %v; want only %s", m.Subject, m.To, m.Cc, m.Bcc, roy)
		}
		if strings.Contains(m.Subject, "pwned") {
			t.Errorf("injected subject: %q", m.Subject)
		}
	}
	d := mp.Message(t, msgs[0].ID)
	for k, vs := range d.Headers {
		for _, v := range vs {
			if strings.Contains(v, "x@y.z") || strings.Contains(v, "pwned") || k == "Bcc" {
				t.Errorf("injected header %s: %q", k, v)
			}
		}
	}
	t.Logf("%d mail(s) received, all to %s alone; headers: %v", len(mp.Messages(t)), roy, headerNames(d.Headers))
}

func headerNames(h map[string][]string) string {
	var names []string
	for k := range h {
		names = append(names, k)
	}
	return fmt.Sprint(len(names), " ", names)
}
