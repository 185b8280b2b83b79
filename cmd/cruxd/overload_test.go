package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHashBoundOverload: with one hash slot and a 1 ms queue, 20 logins
// released at once get one or a few 200s and, for the rest, 503 with
// Retry-After and the busy message, quickly; the server keeps serving.
func TestHashBoundOverload(t *testing.T) {
	const n = 20
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"), "--hash-concurrency", "1", "--hash-wait", "1ms")
	type result struct {
		status     int
		retryAfter string
		detail     string
		took       time.Duration
	}
	results := make([]result, n)
	rest := make([]*io.PipeWriter, n)
	var wg sync.WaitGroup
	for i := range n {
		pr, pw := io.Pipe()
		rest[i] = pw
		wg.Go(func() {
			resp, err := http.Post(p.URL+"/organizations/user-login/", "application/json", pr)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct{ Detail string }
			json.NewDecoder(resp.Body).Decode(&body)
			results[i].status, results[i].retryAfter, results[i].detail = resp.StatusCode, resp.Header.Get("Retry-After"), body.Detail
		})
		go pw.Write([]byte(`{"username": "` + roy + `", `))
	}
	waitMetric(t, p, `cruxd_http_requests_in_flight`, func(v float64) bool { return v >= n+1 })
	start := time.Now()
	for _, pw := range rest {
		go func() {
			pw.Write([]byte(`"password": "` + royOldPW + `"}`))
			pw.Close()
		}()
	}
	wg.Wait()
	took := time.Since(start)

	count := map[int]int{}
	for _, r := range results {
		count[r.status]++
		if r.status == 503 && (r.retryAfter == "" || !strings.Contains(r.detail, "busy")) {
			t.Errorf("503 without Retry-After or the busy message: %+v", r)
		}
	}
	if count[200] < 1 || count[503] < n/2 || count[200]+count[503] != n {
		t.Fatalf("status counts %v: want some 200 and mostly 503", count)
	}
	if took > 2*time.Second {
		t.Errorf("the flood took %v to answer: refusals must come within 2 s", took)
	}
	login(t, p, roy, royOldPW) // still serving
}
