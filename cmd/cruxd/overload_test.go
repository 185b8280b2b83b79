package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHashBoundOverload: with one hash slot and a 1 ms queue, 20 logins
// released at once get one or a few 200s and, for the rest, 503 with
// Retry-After and the busy message, quickly; the server keeps serving.
func TestHashBoundOverload(t *testing.T) {
	const n = 20
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"), "--hash-concurrency", "1", "--hash-wait", "1ms", "--metrics-addr", "127.0.0.1:0")
	finish := heldLogins(t, p, n, heldClient())
	start := time.Now()
	results := finish()
	took := time.Since(start)

	count := map[int]int{}
	for _, r := range results {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		count[r.Status]++
		var body struct{ Detail string }
		json.Unmarshal(r.Body, &body)
		if r.Status == 503 && (r.Header.Get("Retry-After") == "" || !strings.Contains(body.Detail, "busy")) {
			t.Errorf("503 without Retry-After or the busy message: %d %v %s", r.Status, r.Header, r.Body)
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
