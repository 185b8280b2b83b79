package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// openHooked opens a store whose WAL fsyncs go through hook once armed is
// set (Open's own first fsync runs before).
func openHooked(t *testing.T, armed *atomic.Bool, hook func(*os.File) error) *sqlite.Store {
	t.Helper()
	s, err := sqlite.OpenWithSyncHook(context.Background(), filepath.Join(t.TempDir(), "cruxd.db"), func(wal *os.File) error {
		if !armed.Load() {
			return sqlite.Fdatasync(wal)
		}
		return hook(wal)
	})
	return closedAtEnd(t, s, err)
}

func createOrg(s *sqlite.Store, name string) error {
	return s.Update(context.Background(), func(tx account.Tx) error {
		return tx.CreateOrganization(context.Background(), newOrg(name))
	})
}

// TestUpdateAnsweredAfterWALSync holds the fsync of the WAL: the commit is
// made (a reader sees it) and the writer goes on running the next Update,
// but neither Update returns before an fsync that followed its commit has
// completed.
func TestUpdateAnsweredAfterWALSync(t *testing.T) {
	var armed atomic.Bool
	entered := make(chan struct{}, 8)
	gate := make(chan struct{})
	s := openHooked(t, &armed, func(wal *os.File) error {
		err := sqlite.Fdatasync(wal)
		entered <- struct{}{}
		<-gate
		return err
	})
	armed.Store(true)
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(gate) }) }) // before Close

	first := make(chan error, 1)
	go func() { first <- createOrg(s, "first") }()
	<-entered // the fsync covering "first" has run and is held
	if !orgExists(t, s, "first") {
		t.Fatal("the commit of the held Update is not visible: it was not committed before its fsync")
	}
	second := make(chan error, 1)
	ran := make(chan struct{})
	go func() {
		second <- s.Update(context.Background(), func(tx account.Tx) error {
			close(ran)
			return tx.CreateOrganization(context.Background(), newOrg("second"))
		})
	}()
	<-ran // the writer runs the next Update while the fsync is held
	select {
	case err := <-first:
		t.Fatalf("first Update returned (%v) while its fsync was held", err)
	case err := <-second:
		t.Fatalf("second Update returned (%v) before any fsync after its commit", err)
	default:
	}
	release.Do(func() { close(gate) })
	if err := <-first; err != nil {
		t.Errorf("first Update: %v", err)
	}
	if err := <-second; err != nil {
		t.Errorf("second Update: %v", err)
	}
	if !orgExists(t, s, "second") {
		t.Error("second Update returned but its write is not visible")
	}
}

// TestWALSyncFailure: a failed fsync fails the Updates it covered, and the
// store refuses later Updates without running them.
func TestWALSyncFailure(t *testing.T) {
	var armed atomic.Bool
	s := openHooked(t, &armed, func(*os.File) error { return errors.New("I/O error") })
	armed.Store(true)

	err := createOrg(s, "lost")
	if account.ErrorCode(err) != account.EUNAVAILABLE {
		t.Fatalf("Update whose fsync failed = %v, want EUNAVAILABLE", err)
	}
	ran := false
	err = s.Update(context.Background(), func(account.Tx) error { ran = true; return nil })
	if account.ErrorCode(err) != account.EUNAVAILABLE || ran {
		t.Errorf("Update after a failed fsync = %v (fn ran: %v), want EUNAVAILABLE without running fn", err, ran)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping succeeded after a failed fsync")
	}
}
