package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// TestBackupUnderLoad backs a serving cruxd's SQLite file up while reset
// requests keep writing, restores the copy into a second cruxd, and finds
// there the tokens acknowledged before the backup began and none of those
// requested after it ended.
func TestBackupUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "cruxd.db")
	p := serve(t, []string{"--db", db})

	const (
		before = iota // acknowledged before the backup began
		during        // neither: the snapshot may or may not hold it
		after         // requested after the backup returned
	)
	var phase atomic.Int32
	type issued struct {
		token string
		when  int32
	}
	var (
		mu     sync.Mutex
		tokens = map[string][]issued{} // by e-mail, oldest first
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The first demo user's requests stop when the backup begins, so the
	// copy holds its last acknowledged tokens live (a newer one, committed
	// while the backup started, would retire them); the second user's go
	// on through the backup and after it.
	checked, load := account.DemoUsers[0].Email, account.DemoUsers[1].Email
	warm := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, email := range []string{checked, load} {
		wg.Add(1)
		go func() { // one request at a time per address
			defer wg.Done()
			afterCount := 0
			for i := 0; i < 5000 && ctx.Err() == nil && afterCount < 3; i++ {
				sentIn := phase.Load()
				if email == checked && sentIn != before {
					return
				}
				status, body, err := call(p.URL, http.MethodPost, "/organizations/reset-password/", map[string]string{"email": email})
				if err != nil || status != http.StatusOK {
					t.Errorf("reset %s: %d %v %s", email, status, err, body)
					return
				}
				var r struct {
					Token string `json:"reset_token"`
				}
				if err := json.Unmarshal(body, &r); err != nil || r.Token == "" {
					t.Errorf("reset %s: %s", email, body)
					return
				}
				when := during
				switch {
				case phase.Load() == before:
					when = before
				case sentIn == after:
					when = after
					afterCount++
				}
				mu.Lock()
				tokens[email] = append(tokens[email], issued{r.Token, int32(when)})
				mu.Unlock()
				if i == 20 {
					warm <- struct{}{}
				}
			}
		}()
	}
	for range 2 {
		select {
		case <-warm:
		case <-ctx.Done():
			t.Fatal("the load did not start")
		}
	}

	copyPath := filepath.Join(dir, "backup.db")
	phase.Store(during)
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"backup", "--db", db, copyPath}, &stdout, &stderr, func(string) string { return "" })
	phase.Store(after)
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, stderr.String())
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if !strings.Contains(stdout.String(), "backed up") {
		t.Errorf("backup said %q", stdout.String())
	}

	// A second backup to the same file is refused: it never overwrites.
	stderr.Reset()
	if code := run(ctx, []string{"backup", "--db", db, copyPath}, &stdout, &stderr, func(string) string { return "" }); code == 0 {
		t.Errorf("backup over an existing file: exit 0")
	}

	// Restore: a new cruxd on the copy.
	restored := serve(t, []string{"--db", copyPath})
	// Reset Password keeps a user's newest three tokens live; with at
	// most one request in flight when the backup began, the newest two
	// acknowledged before it are live in any copy that holds them.
	var live int
	list := tokens[checked]
	for i := len(list) - 1; i >= 0 && live < 2; i-- {
		if list[i].when != before {
			continue
		}
		live++
		if r := restored.Do(t, http.MethodGet, "/organizations/complete-password/?token="+list[i].token, nil); r.Status != http.StatusOK {
			t.Errorf("token acknowledged before the backup: %d in the restored copy", r.Status)
		}
	}
	if live < 2 {
		t.Errorf("only %d tokens acknowledged before the backup", live)
	}
	var later int
	for _, it := range tokens[load] {
		if it.when != after {
			continue
		}
		later++
		if r := restored.Do(t, http.MethodGet, "/organizations/complete-password/?token="+it.token, nil); r.Status != http.StatusNotFound {
			t.Errorf("token requested after the backup: %d in the restored copy, want 404", r.Status)
		}
	}
	if later == 0 {
		t.Error("no token was requested after the backup")
	}
}

// TestBackupUsage: one destination, and SQLite only (PostgreSQL is backed
// up with pg_dump).
func TestBackupUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"backup"},
		{"backup", "--db", "postgres://u@127.0.0.1/db", "out.db"},
		{"backup", "a.db", "b.db"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" }); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}
