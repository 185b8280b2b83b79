package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
)

// syncBuffer is an io.Writer a test may read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestSandboxLoopbackOnly: sandbox, which hands out reset tokens in its
// answers, refuses an --addr that is not loopback with exit 2 and one line
// saying why, unless --sandbox-public (or CRUXD_SANDBOX_PUBLIC) is given;
// on loopback it serves. Through run(), in process.
func TestSandboxLoopbackOnly(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "cruxd.db")
	type result struct {
		code           int
		stdout, stderr string
	}
	// serve runs cruxd serve until it listens (then stops it) or returns.
	serve := func(env map[string]string, args ...string) result {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var stdout, stderr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, append([]string{"serve", "--db", db}, args...), &stdout, &stderr, func(k string) string {
				if v, ok := env[k]; ok {
					return v
				}
				return cruxdtest.Getenv()(k)
			})
		}()
		deadline := time.After(60 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case code := <-done:
				return result{code, stdout.String(), stderr.String()}
			case <-tick.C:
				if strings.Contains(stdout.String(), "listening on http://") {
					cancel()
				}
			case <-deadline:
				t.Fatalf("cruxd %v neither listened nor stopped", args)
			}
		}
	}
	for _, addr := range []string{":8080", "0.0.0.0:8080", "[::]:8080", "192.0.2.1:8080", "example.com:8080", "8080"} {
		r := serve(nil, "--addr", addr)
		if r.code != 2 || strings.Contains(r.stdout, "listening") {
			t.Errorf("sandbox --addr %s: exit %d, stdout %q; want 2 before listening", addr, r.code, r.stdout)
		}
		if lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n"); len(lines) != 1 ||
			!strings.Contains(r.stderr, "loopback") || !strings.Contains(r.stderr, "--sandbox-public") {
			t.Errorf("sandbox --addr %s: stderr %q; want one line naming loopback and --sandbox-public", addr, r.stderr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if r := serve(nil, "--addr", addr); r.code != 0 || !strings.Contains(r.stdout, "listening on http://") {
			t.Errorf("sandbox --addr %s: exit %d, stdout %q, stderr %q; want it served", addr, r.code, r.stdout, r.stderr)
		}
	}
	// Allowed, it goes on to listen; 192.0.2.1 (TEST-NET-1) is no address
	// of this machine, so the listen fails (exit 1) without serving anyone.
	for name, r := range map[string]result{
		"flag": serve(nil, "--addr", "192.0.2.1:0", "--sandbox-public"),
		"env":  serve(map[string]string{"CRUXD_SANDBOX_PUBLIC": "true"}, "--addr", "192.0.2.1:0"),
	} {
		if r.code != 1 || !strings.Contains(r.stderr, "listen") {
			t.Errorf("sandbox-public by %s: exit %d, stderr %q; want 1 from the listen itself", name, r.code, r.stderr)
		}
	}
	// Production hands out no token: any address is its operator's choice.
	if r := serve(nil, "--addr", "192.0.2.1:0", "--mode", "production", "--public-url", "https://example.com", "--smtp-url", "smtp://127.0.0.1:1"); r.code != 1 {
		t.Errorf("production on a non-loopback --addr: exit %d, stderr %q; want 1 from the listen", r.code, r.stderr)
	}
}
