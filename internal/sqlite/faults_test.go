package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
	"github.com/cruxd/cruxd/internal/storetest"
	"github.com/cruxd/cruxd/internal/testenv"
)

// bigOrg returns an organization whose name takes n bytes, so that a few
// Updates fill a small filesystem.
func bigOrg(i, n int) *account.Organization {
	return newOrg(fmt.Sprintf("%07d%s", i, strings.Repeat("x", n-7)))
}

func openOn(t *testing.T, dir string, opt sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.OpenWith(context.Background(), filepath.Join(dir, "cruxd.db"), opt)
	return closedAtEnd(t, s, err)
}

// TestFullDiskIsUnavailable: writes on a full filesystem fail with
// EUNAVAILABLE from the first one, Ping fails while they do, reads go on,
// and once there is room again writes and Ping succeed without a reopen.
func TestFullDiskIsUnavailable(t *testing.T) {
	dir := testenv.SmallFS(t, 4<<20)
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "cruxd.db"))
	s = closedAtEnd(t, s, err)
	ctx := context.Background()
	if err := createOrg(s, "Before"); err != nil {
		t.Fatal(err)
	}
	filler := testenv.Fill(t, dir)

	var failure error
	for i := range 200 {
		err := s.Update(ctx, func(tx account.Tx) error { return tx.CreateOrganization(ctx, bigOrg(i, 32<<10)) })
		if err != nil {
			failure = err
			break
		}
	}
	if failure == nil {
		t.Fatal("200 Updates of 32 KiB each succeeded on a full 4 MiB filesystem")
	}
	if account.ErrorCode(failure) != account.EUNAVAILABLE {
		t.Fatalf("first failed Update on a full disk = %v (code %s), want EUNAVAILABLE", failure, account.ErrorCode(failure))
	}
	if err := s.Ping(ctx); account.ErrorCode(err) != account.EUNAVAILABLE {
		t.Errorf("Ping on a full disk = %v, want EUNAVAILABLE", err)
	}
	if !orgExists(t, s, "Before") {
		t.Error("a read on a full disk did not find what was written before")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once there is room again = %v, want nil", err)
	}
	if err := createOrg(s, "After"); err != nil {
		t.Errorf("Update once there is room again = %v", err)
	}
}

// TestLongReaderWALBounded: a read transaction held open on the file while
// writes go on lets the WAL grow to its default limit at most, half the
// room of a small filesystem, then writes are EUNAVAILABLE and the store
// says (and logs once) that the WAL is pinned; once the reader ends,
// writes succeed again and the WAL shrinks back under the size SQLite
// truncates it to, without a reopen.
func TestLongReaderWALBounded(t *testing.T) {
	const fsSize = 24 << 20
	dir := testenv.SmallFS(t, fsSize)
	var logged bytes.Buffer
	s := openOn(t, dir, sqlite.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	limit := sqlite.WALLimit(s)
	if limit > fsSize/2 {
		t.Fatalf("default WAL limit on a %d-byte filesystem = %d, want at most half", fsSize, limit)
	}
	ctx := context.Background()
	if err := createOrg(s, "Before"); err != nil {
		t.Fatal(err)
	}

	// Another process's reader: a plain connection holding a read
	// transaction open, as a sqlite3 shell or a backup tool does.
	db, err := sql.Open("sqlite", filepath.Join(dir, "cruxd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reader, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback() // should the test fail first: the unmount needs the file closed
	var n int
	if err := reader.QueryRow(`SELECT count(*) FROM organizations`).Scan(&n); err != nil {
		t.Fatal(err)
	}

	var failure error
	for i := range 2000 {
		err := s.Update(ctx, func(tx account.Tx) error { return tx.CreateOrganization(ctx, bigOrg(i, 16<<10)) })
		if err != nil {
			failure = err
			break
		}
	}
	if account.ErrorCode(failure) != account.EUNAVAILABLE {
		t.Fatalf("Update with the WAL pinned past its limit = %v, want EUNAVAILABLE", failure)
	}
	if got := s.WALBytes(); got > limit+2<<20 {
		t.Errorf("WAL with a reader pinning it = %d bytes, want at most the limit %d and one transaction", got, limit)
	}
	if !s.WALPinned() {
		t.Error("WALPinned = false while a reader pins the WAL over its limit")
	}
	if err := s.Ping(ctx); account.ErrorCode(err) != account.EUNAVAILABLE {
		t.Errorf("Ping with the WAL pinned = %v, want EUNAVAILABLE", err)
	}
	if !orgExists(t, s, "Before") {
		t.Error("reads failed with the WAL pinned")
	}

	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := createOrg(s, fmt.Sprint("After", i)); err != nil {
			t.Fatalf("Update after the reader ended = %v", err)
		}
	}
	if got := s.WALBytes(); got > sqlite.WALTruncateTo {
		t.Errorf("WAL after the reader ended = %d bytes, want at most %d", got, sqlite.WALTruncateTo)
	}
	if s.WALPinned() {
		t.Error("WALPinned = true after the reader ended")
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the reader ended = %v", err)
	}
	if n := strings.Count(logged.String(), "cannot be checkpointed"); n != 1 {
		t.Errorf("log says the WAL cannot be checkpointed %d times, want once:\n%s", n, logged.String())
	}
}

const populatedOrgs = 2000

// populated returns the path of a closed database holding enough rows to
// span many pages.
func populated(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CreateOrganizations(t, s, populatedOrgs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDamagedFileRefused: Open refuses a file with 16 KiB of random bytes
// in it (ErrDamaged), and Check lists the damage.
func TestDamagedFileRefused(t *testing.T) {
	path := populated(t)
	if problems, err := sqlite.Check(context.Background(), path); err != nil || len(problems) > 0 {
		t.Fatalf("Check of a sound file = %q, %v; want no problems", problems, err)
	}
	storetest.Damage(t, path)
	s, err := sqlite.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a damaged file succeeded")
	}
	if !errors.Is(err, sqlite.ErrDamaged) {
		t.Errorf("Open of a damaged file = %v, want ErrDamaged", err)
	}
	problems, err := sqlite.Check(context.Background(), path)
	if err == nil && len(problems) == 0 {
		t.Error("Check of a damaged file found nothing")
	}
}

// TestDamageFoundWhileServing: a file damaged under an open store makes the
// first Update or View that meets the damage EUNAVAILABLE with ErrDamaged,
// and every later Update EUNAVAILABLE without running, Ping too, with one
// log line.
func TestDamageFoundWhileServing(t *testing.T) {
	path := populated(t)
	var logged bytes.Buffer
	s, err := sqlite.OpenWith(context.Background(), path, sqlite.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	s = closedAtEnd(t, s, err)
	storetest.Damage(t, path)
	ctx := context.Background()
	var found error
	for i := range populatedOrgs {
		err := s.View(ctx, func(tx account.Tx) error {
			_, err := tx.OrganizationByName(ctx, storetest.Organization(i).Name)
			return err
		})
		if err != nil && account.ErrorCode(err) != account.ENOTFOUND {
			found = err
			break
		}
	}
	if found == nil {
		// The damage may sit in pages SQLite had cached: write on.
		for i := range 100 {
			if err := s.Update(ctx, func(tx account.Tx) error { return tx.CreateOrganization(ctx, storetest.Organization(populatedOrgs+i)) }); err != nil {
				found = err
				break
			}
		}
	}
	if account.ErrorCode(found) != account.EUNAVAILABLE || !errors.Is(found, sqlite.ErrDamaged) {
		t.Fatalf("first error on a damaged file = %v, want EUNAVAILABLE with ErrDamaged", found)
	}
	ran := false
	err = s.Update(ctx, func(account.Tx) error { ran = true; return nil })
	if account.ErrorCode(err) != account.EUNAVAILABLE || ran {
		t.Errorf("Update after damage was found = %v (fn ran: %v), want EUNAVAILABLE without running", err, ran)
	}
	if err := s.Ping(ctx); account.ErrorCode(err) != account.EUNAVAILABLE {
		t.Errorf("Ping after damage was found = %v, want EUNAVAILABLE", err)
	}
	if n := strings.Count(logged.String(), "restore the file from a backup"); n != 1 {
		t.Errorf("log says to restore from backup %d times, want once:\n%s", n, logged.String())
	}
}

func createOrg(s *sqlite.Store, name string) error {
	return s.Update(context.Background(), func(tx account.Tx) error {
		return tx.CreateOrganization(context.Background(), newOrg(name))
	})
}

// TestNewerSchemaRefused: a database that records a migration newer than
// this binary's newest is refused with both versions, unless
// AllowNewerSchema.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := s.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	latest := vs[len(vs)-1]
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, latest+1); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = sqlite.Open(ctx, path)
	var se *account.SchemaError
	if !errors.As(err, &se) || se.Database != latest+1 || se.Binary != latest {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open of a newer schema = %v, want SchemaError{%d, %d}", err, latest+1, latest)
	}
	s, err = sqlite.OpenWith(ctx, path, sqlite.Options{AllowNewerSchema: true})
	closedAtEnd(t, s, err)
}
