package main

import (
	"bufio"
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
