package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGenerateCountsAnswers drives a real net/http server with the
// generator and checks that every answer is counted under its status: a
// sized body, a chunked one, a 204, a 503 with Retry-After and one that
// closes its connection, and that each request arrived whole (method,
// path, header, body).
func TestGenerateCountsAnswers(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s %s %s %s", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body))
		mu.Unlock()
		switch r.URL.Query().Get("kind") {
		case "sized":
			w.Write([]byte(`{"ok":true}`))
		case "chunked":
			w.Write([]byte("part one "))
			w.(http.Flusher).Flush()
			w.Write([]byte(strings.Repeat("x", 20000)))
		case "empty":
			w.WriteHeader(http.StatusNoContent)
		case "busy":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		}
	}))
	defer srv.Close()

	kinds := []string{"sized", "chunked", "empty", "busy", "close"}
	var (
		next int
		tmu  sync.Mutex
	)
	tg := targeter{srv.URL, func(r *hreq) error {
		tmu.Lock()
		k := kinds[next%len(kinds)]
		next++
		tmu.Unlock()
		*r = hreq{method: "POST", path: "/x?kind=" + k, header: "Authorization: Token t", body: append(r.body[:0], `{"a":1}`...)}
		return nil
	}}
	const n = 50
	s := &stats{codes: map[int]int{}, errs: map[string]int{}}
	err := generate(attackSpec{name: "test", targeter: tg, workers: 3, duration: time.Minute, maxHits: n, timeout: 10 * time.Second}, s)
	if err != nil {
		t.Fatal(err)
	}
	if s.requests != n || s.codes[200] != 30 || s.codes[204] != 10 || s.codes[503] != 10 || s.retryAfter != 10 || s.ok != 40 {
		t.Errorf("stats: %d requests, codes %v, %d with Retry-After, %d ok, errors %v; want %d, 200×30 204×10 503×10, 10, 40",
			s.requests, s.codes, s.retryAfter, s.ok, s.errs, n)
	}
	if len(s.lat) != n || s.elapsed <= 0 {
		t.Errorf("%d latencies, elapsed %v; want %d and > 0", len(s.lat), s.elapsed, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("server saw %d requests; want %d", len(got), n)
	}
	for _, g := range got {
		if !strings.HasPrefix(g, "POST /x?kind=") || !strings.HasSuffix(g, ` Token t application/json {"a":1}`) {
			t.Errorf("server saw %q", g)
		}
	}
}

// TestGenerateFixedRate: at a fixed rate the generator sends the requests
// the rate and duration make, no more, and GETs carry no body.
func TestGenerateFixedRate(t *testing.T) {
	var (
		mu     sync.Mutex
		n      int
		bodies int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		if r.ContentLength != 0 {
			bodies++
		}
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	tg := targeter{srv.URL, func(r *hreq) error {
		*r = hreq{method: "GET", path: "/"}
		return nil
	}}
	s := &stats{codes: map[int]int{}, errs: map[string]int{}}
	// 200/s for 250 ms: the sends due at 0, 5, …, 245 ms.
	err := generate(attackSpec{name: "test", targeter: tg, rate: 200, workers: 10, duration: 250 * time.Millisecond, timeout: 10 * time.Second}, s)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if s.requests != 50 || s.ok != 50 || n != 50 || bodies != 0 {
		t.Errorf("generator counted %d requests (%d ok), server saw %d (%d with a body); want 50, 50, 50, 0", s.requests, s.ok, n, bodies)
	}
}
