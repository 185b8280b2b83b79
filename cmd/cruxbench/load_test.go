package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// TestPrepareReuse loads a small SQLite database the way a growth run does,
// adds what an earlier run would leave (a live and a used reset token), and
// checks that a later run reusing the file deletes exactly those and counts
// what the file holds, not what its own flags say.
func TestPrepareReuse(t *testing.T) {
	ctx := context.Background()
	db := &database{dsn: filepath.Join(t.TempDir(), "cruxd.db")}
	b := &bench{o: &options{Batch: 100}}
	if err := b.load(ctx, db, 250, 730); err != nil {
		t.Fatal(err)
	}
	st, err := db.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = st.Update(ctx, func(tx account.Tx) error {
		u, err := tx.UserByEmail(ctx, userEmail(0))
		if err != nil {
			return err
		}
		id := u.ID
		for _, rt := range []*account.ResetToken{
			{Digest: account.Digest("live"), UserID: id, CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour)},
			{Digest: account.Digest("used"), UserID: id, CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour), UsedAt: &now},
		} {
			if err := tx.CreateResetToken(ctx, rt); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	for _, wantDeleted := range []int{2, 0} {
		l, err := prepareReuse(ctx, db.dsn, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		if l != (loaded{users: 250, expired: 730, deleted: wantDeleted}) {
			t.Errorf("prepareReuse = %+v; want 250 users, 730 expired tokens, %d deleted", l, wantDeleted)
		}
	}
}

// TestPrepareReuseRefusesForeignFile: a database cruxbench did not load
// is named in a one-line error, not measured.
func TestPrepareReuseRefusesForeignFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = prepareReuse(ctx, path, 100, time.Now())
	if err == nil || !strings.Contains(err.Error(), "holds no users loaded by cruxbench") {
		t.Errorf("prepareReuse of a file cruxbench did not load: %v", err)
	}
}
