package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// cruxbench's load generator. On 2 cores the generator shares the CPU with
// the server it measures, so what it costs a request is taken from the
// server: a general HTTP client (vegeta, net/http) cost enough to hold the
// bare handler far below what wrk reaches on the same request. This one
// keeps one plain TCP connection per worker, writes each request as built
// bytes, reads the answer with a parser that knows only what the servers
// measured here send (a status line, headers, a Content-Length or chunked
// body) and records results in per-worker slices, merged once at the end.
// Every run compares it with wrk on the bare server (see wrk.go).

// hreq is one request a targeter fills: the path with its query, and
// optionally a body (sent as JSON) and one more header.
type hreq struct {
	method, path string
	header       string // one "Name: value" line without CRLF, or ""
	body         []byte // nil: no body
}

// targeter makes an attack's requests to the server at base
// (http://HOST:PORT): next sets every field of r for the next one, and may
// reuse the backing array of r.body.
type targeter struct {
	base string
	next func(r *hreq) error
}

// appendWire appends r as an HTTP/1.1 request to host.
func appendWire(buf []byte, host string, r *hreq) []byte {
	buf = append(buf, r.method...)
	buf = append(buf, ' ')
	buf = append(buf, r.path...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, host...)
	buf = append(buf, "\r\nUser-Agent: cruxbench\r\n"...)
	if r.header != "" {
		buf = append(buf, r.header...)
		buf = append(buf, "\r\n"...)
	}
	if r.body != nil {
		buf = append(buf, "Content-Type: application/json\r\nContent-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(r.body)), 10)
		buf = append(buf, "\r\n\r\n"...)
		return append(buf, r.body...)
	}
	return append(buf, "\r\n"...)
}

// response is what the generator keeps of an answer.
type response struct {
	code       int
	retryAfter bool
	close      bool // the server closes the connection after it
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one answer from br and discards its body.
func readResponse(br *bufio.Reader) (response, error) {
	var resp response
	line, err := br.ReadSlice('\n')
	if err != nil {
		return resp, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return resp, errMalformed
	}
	if resp.code, err = strconv.Atoi(string(line[9:12])); err != nil {
		return resp, errMalformed
	}
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return resp, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return resp, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return resp, errMalformed
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "Connection"):
			resp.close = asciiEqualFold(value, "close")
		case asciiEqualFold(name, "Retry-After"):
			resp.retryAfter = true
		}
	}
	switch {
	case chunked:
		return resp, discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
		return resp, err
	case resp.code == 204 || resp.code == 304 || resp.code/100 == 1:
		return resp, nil
	default:
		// No length: the body ends with the connection.
		resp.close = true
		_, err = br.WriteTo(discard{})
		return resp, err
	}
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			// Trailers, then the empty line.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// client is one worker's connection to the server.
type client struct {
	addr     string // host:port
	timeout  time.Duration
	conn     net.Conn
	br       *bufio.Reader
	req      hreq
	wire     []byte
	deadline time.Time // of conn; renewed once half of timeout is gone
}

func newClient(base string, timeout time.Duration) (*client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	return &client{addr: u.Host, timeout: timeout}, nil
}

// do sends the request of t and reads its answer.
func (c *client) do(t targeter) (response, error) {
	if err := t.next(&c.req); err != nil {
		return response{}, err
	}
	c.wire = appendWire(c.wire[:0], c.addr, &c.req)
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return response{}, err
		}
		c.conn, c.br, c.deadline = conn, bufio.NewReaderSize(conn, 16<<10), time.Time{}
	}
	// A deadline per request would cost a timer update each; renewing it
	// when half of it is gone bounds each request by timeout/2..timeout.
	if now := time.Now(); c.deadline.Sub(now) < c.timeout/2 {
		c.deadline = now.Add(c.timeout)
		c.conn.SetDeadline(c.deadline)
	}
	if _, err := c.conn.Write(c.wire); err != nil {
		c.close()
		return response{}, err
	}
	resp, err := readResponse(c.br)
	if err != nil || resp.close {
		c.close()
	}
	return resp, err
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// tally is one worker's results.
type tally struct {
	requests, ok, n503, retryAfter int
	codes                          map[int]int
	errs                           map[string]int
	lat                            []time.Duration
	last                           time.Time // end of its last answer
}

func (t *tally) add(resp response, err error, start, end time.Time) {
	t.requests++
	code := resp.code
	if err != nil {
		code = 0
		if len(t.errs) < 5 {
			t.errs[err.Error()]++
		}
	}
	t.codes[code]++
	if code/100 == 2 {
		t.ok++
	}
	if code == 503 {
		t.n503++
		if resp.retryAfter {
			t.retryAfter++
		}
	}
	t.lat = append(t.lat, end.Sub(start))
	if end.After(t.last) {
		t.last = end
	}
}

// generate runs spec against base and merges the workers' tallies into s;
// it returns when every request sent has its answer. At rate 0 exactly
// spec.workers connections each send their next request as soon as the
// previous answer is in; at a fixed rate a pacer hands each request's send
// time to an idle worker, starting another (up to spec.workers) when none
// is idle, so that a slow answer does not delay the requests after it.
func generate(spec attackSpec, s *stats) error {
	base := spec.targeter.base
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		hits    atomic.Uint64
		stopped atomic.Bool
		tallies []*tally
	)
	// worker starts a connection's goroutine: it sends a request each
	// time next allows one.
	worker := func(next func() bool) error {
		c, err := newClient(base, spec.timeout)
		if err != nil {
			return err
		}
		t := &tally{codes: map[int]int{}, errs: map[string]int{}}
		mu.Lock()
		tallies = append(tallies, t)
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			for next() {
				t0 := time.Now()
				resp, err := c.do(spec.targeter)
				t.add(resp, err, t0, time.Now())
			}
		}()
		return nil
	}
	// take reserves one request within the attack's bounds.
	take := func() bool {
		return !stopped.Load() && (spec.maxHits == 0 || hits.Add(1) <= spec.maxHits)
	}
	if spec.stop != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-spec.stop:
				stopped.Store(true)
			case <-done:
			}
		}()
	}
	start := time.Now()
	end := start.Add(spec.duration)
	if spec.rate == 0 {
		next := func() bool { return time.Now().Before(end) && take() }
		for range spec.workers {
			if err := worker(next); err != nil {
				return err
			}
		}
	} else {
		sends := make(chan struct{})
		next := func() bool {
			_, ok := <-sends
			return ok
		}
		spawned := 0
		period := time.Second / time.Duration(spec.rate)
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * period)
			if !at.Before(end) || !take() {
				break
			}
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			select {
			case sends <- struct{}{}:
				continue
			default:
			}
			if spawned < spec.workers {
				if err := worker(next); err != nil {
					close(sends)
					wg.Wait()
					return err
				}
				spawned++
			}
			sends <- struct{}{}
		}
		close(sends)
	}
	wg.Wait()
	var last time.Time
	for _, t := range tallies {
		s.requests += t.requests
		s.ok += t.ok
		s.n503 += t.n503
		s.retryAfter += t.retryAfter
		for c, n := range t.codes {
			s.codes[c] += n
		}
		for e, n := range t.errs {
			if len(s.errs) < 5 {
				s.errs[e] += n
			}
		}
		s.lat = append(s.lat, t.lat...)
		if t.last.After(last) {
			last = t.last
		}
	}
	if s.requests > 0 {
		s.elapsed = last.Sub(start)
	}
	return nil
}
