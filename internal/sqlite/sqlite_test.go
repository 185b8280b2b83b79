package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
	"github.com/cruxd/cruxd/internal/storetest"
)

// MustOpen opens a store on a new file in a temporary directory and closes
// it when the test ends.
func MustOpen(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "cruxd.db"))
}

func mustOpenPath(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), path)
	return closedAtEnd(tb, s, err)
}

// closedAtEnd fails tb if opening s failed (err), else closes s when the
// test ends.
func closedAtEnd(tb testing.TB, s *sqlite.Store, err error) *sqlite.Store {
	tb.Helper()
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

var _ storetest.Inspector = (*sqlite.Store)(nil)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) account.Store { return MustOpen(t) })
}

var t0 = time.Date(2030, time.March, 14, 15, 9, 26, 0, time.UTC)

func newOrg(name string) *account.Organization {
	return &account.Organization{UUID: "uuid-" + name, Name: name, Type: account.Retailer, CreatedAt: t0}
}

func orgExists(t *testing.T, s account.Store, name string) bool {
	t.Helper()
	var err error
	if verr := s.View(context.Background(), func(tx account.Tx) error {
		_, err = tx.OrganizationByName(context.Background(), name)
		return nil
	}); verr != nil {
		t.Fatalf("View: %v", verr)
	}
	if err != nil && account.ErrorCode(err) != account.ENOTFOUND {
		t.Fatalf("OrganizationByName: %v", err)
	}
	return err == nil
}

func TestPragmas(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	check := func(who string, tx account.Tx) {
		for pragma, want := range map[string]string{
			"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000",
		} {
			got, err := sqlite.Pragma(ctx, tx, pragma)
			if err != nil {
				t.Errorf("%s: pragma %s: %v", who, pragma, err)
			} else if got != want {
				t.Errorf("%s: pragma %s = %q, want %q", who, pragma, got, want)
			}
		}
	}
	if err := s.Update(ctx, func(tx account.Tx) error {
		check("writer", tx)
		// Durability is SQLite's: every COMMIT syncs the WAL, and SQLite
		// checkpoints by itself and truncates the WAL after a checkpoint.
		for pragma, want := range map[string]string{
			"synchronous":        "2", // FULL
			"wal_autocheckpoint": "1000",
			"journal_size_limit": fmt.Sprint(sqlite.WALTruncateTo),
		} {
			if got, _ := sqlite.Pragma(ctx, tx, pragma); got != want {
				t.Errorf("writer: %s = %q, want %q", pragma, got, want)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Hold several Views at once so that more than one reader is checked.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if err := s.View(ctx, func(tx account.Tx) error {
				check(fmt.Sprint("reader ", i), tx)
				if got, _ := sqlite.Pragma(ctx, tx, "query_only"); got != "1" {
					t.Errorf("reader %d: query_only = %q, want 1", i, got)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx account.Tx) error { return tx.CreateOrganization(ctx, newOrg("Kept")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(account.Tx) error { return nil }); account.ErrorCode(err) != account.EUNAVAILABLE ||
		!errors.Is(err, sqlite.ErrClosed) {
		t.Errorf("Update after Close = %v, want EUNAVAILABLE wrapping ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s = mustOpenPath(t, path)
	if !orgExists(t, s, "Kept") {
		t.Error("organization lost across close and reopen")
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after reopen: %v", err)
	}
	versions, err := s.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for v := range len(files) {
		want = append(want, v+1)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("recorded migrations %v, want %v once each, after a reopen", versions, want)
	}
}

func TestOpenRefusesBadPath(t *testing.T) {
	if s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a?b.db")); err == nil {
		s.Close()
		t.Error("Open accepted a path holding '?'")
	}
}

// TestGroupCommit sends 200 Updates at once: all commit and are visible.
func TestGroupCommit(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range n {
		wg.Go(func() {
			if err := s.Update(ctx, func(tx account.Tx) error {
				return tx.CreateOrganization(ctx, newOrg(fmt.Sprint("org ", i)))
			}); err != nil {
				failed.Add(1)
				t.Errorf("Update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return
	}
	for i := range n {
		if !orgExists(t, s, fmt.Sprint("org ", i)) {
			t.Errorf("org %d missing", i)
		}
	}
}

// TestQueuedUpdatesShareOneCommit: Updates that queue while the writer is
// busy commit together in one transaction; with a batch of one, each gets
// its own.
func TestQueuedUpdatesShareOneCommit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBatch int
		commits  int64
	}{{"group", 0, 1}, {"single", 1, 1 + 40}} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustOpen(t)
			if tc.maxBatch > 0 {
				sqlite.SetMaxBatch(s, tc.maxBatch)
			}
			ctx := context.Background()
			before := sqlite.Commits(s)
			release := make(chan struct{})
			started := make(chan struct{})
			held := make(chan struct{})
			go func() {
				defer close(held)
				if err := s.Update(ctx, func(tx account.Tx) error {
					close(started)
					<-release
					return tx.CreateOrganization(ctx, newOrg("holder"))
				}); err != nil {
					t.Errorf("holding Update: %v", err)
				}
			}()
			<-started
			const n = 40
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					if err := createOrg(s, fmt.Sprint("queued ", i)); err != nil {
						t.Errorf("Update %d: %v", i, err)
					}
				})
			}
			waitQueued(t, s, n)
			close(release)
			wg.Wait()
			<-held
			if got := sqlite.Commits(s) - before; got != tc.commits {
				t.Errorf("%d Updates queued behind one took %d commits, want %d", n, got, tc.commits)
			}
		})
	}
}

// TestBatchIsolation runs failing, panicking and succeeding fns in the same
// batch: only the failing ones are rolled back.
func TestBatchIsolation(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	const n = 60
	// Hold the writer so that every Update below lands in one batch.
	release := make(chan struct{})
	started := make(chan struct{})
	holdWriter(t, s, started, release)
	<-started
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			errs[i] = s.Update(ctx, func(tx account.Tx) error {
				if err := tx.CreateOrganization(ctx, newOrg(fmt.Sprint("org ", i))); err != nil {
					return err
				}
				switch i % 3 {
				case 1:
					return errors.New("fails")
				case 2:
					if i%2 == 0 {
						panic("boom")
					}
					// A constraint error in the middle of the batch.
					return tx.CreateOrganization(ctx, newOrg(fmt.Sprint("org ", i)))
				}
				return nil
			})
		})
	}
	waitQueued(t, s, n)
	close(release)
	wg.Wait()
	for i, err := range errs {
		wantOK := i%3 == 0
		if (err == nil) != wantOK {
			t.Errorf("Update %d: err %v, want success %v", i, err, wantOK)
		}
		if i%3 == 2 && i%2 != 0 && account.ErrorCode(err) != account.ECONFLICT {
			t.Errorf("Update %d: err %v, want ECONFLICT", i, err)
		}
		if got := orgExists(t, s, fmt.Sprint("org ", i)); got != wantOK {
			t.Errorf("org %d exists = %v, want %v", i, got, wantOK)
		}
	}
}

func TestUpdateCancelledWhileQueued(t *testing.T) {
	s := MustOpen(t)
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	started := make(chan struct{})
	holdWriter(t, s, started, release)
	<-started
	done := make(chan error)
	go func() {
		done <- s.Update(ctx, func(tx account.Tx) error { return tx.CreateOrganization(ctx, newOrg("late")) })
	}()
	waitQueued(t, s, 1)
	cancel()
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Update = %v, want context.Canceled", err)
	}
	if orgExists(t, s, "late") {
		t.Error("fn of a cancelled Update committed")
	}
}

// holdWriter keeps the writer busy in an Update until release is closed;
// started is closed once it is.
func holdWriter(t *testing.T, s *sqlite.Store, started, release chan struct{}) {
	go func() {
		err := s.Update(context.Background(), func(account.Tx) error { close(started); <-release; return nil })
		if err != nil {
			t.Errorf("holding Update: %v", err)
		}
	}()
}

// waitQueued waits until n Updates wait for the held writer.
func waitQueued(t *testing.T, s *sqlite.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for sqlite.QueuedUpdates(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d Updates queued, want %d", sqlite.QueuedUpdates(s), n)
		}
		runtime.Gosched()
	}
}

func TestWriteInViewFails(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	err := s.View(ctx, func(tx account.Tx) error { return tx.CreateOrganization(ctx, newOrg("x")) })
	if err == nil {
		t.Fatal("write in a View succeeded")
	}
}
