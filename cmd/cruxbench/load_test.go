package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestCountLoaded loads a small SQLite database the way a growth run does
// and checks that a later run reusing the file counts what it holds, not
// what its own flags say.
func TestCountLoaded(t *testing.T) {
	ctx := context.Background()
	db := &database{dsn: filepath.Join(t.TempDir(), "cruxd.db")}
	b := &bench{o: &options{Batch: 100}}
	if err := b.load(ctx, db, 250, 730); err != nil {
		t.Fatal(err)
	}
	users, expired, err := countLoaded(ctx, db.dsn, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if users != 250 || expired != 730 {
		t.Errorf("countLoaded = %d users, %d expired tokens; want 250, 730", users, expired)
	}
}
