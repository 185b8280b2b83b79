package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
)

// TestExpireLegacyHashes: `cruxd user expire-legacy-hashes --before DATE`
// clears the imported hashes never replaced at a login of the accounts
// created before DATE, and no other hash; such an account's login then
// fails like a wrong password, and a reset gives it a working password.
// A bad date is a usage error.
func TestExpireLegacyHashes(t *testing.T) {
	t.Parallel()
	const (
		legacy   = "legacy@cruxsupplier.com"
		migrated = "migrated@cruxsupplier.com"
		newPW    = "a brand new passphrase for legacy"
	)
	db := cruxdtest.NewDB(t,
		cruxdtest.Account{Email: roy, FirstName: "Roy", Password: royOldPW},
		cruxdtest.Account{Email: legacy, FirstName: "Legacy", Hash: djangoHash(t, djangoPW, 1000)},
		cruxdtest.Account{Email: migrated, FirstName: "Migrated", Hash: djangoHash(t, djangoPW, 1000)})
	// Migrated logs in once: its hash becomes argon2id.
	p := startSandbox(t, db)
	if st := loginStatus(t, p.URL, migrated, djangoPW); st != 200 {
		t.Fatalf("legacy login before the expiry: %d", st)
	}
	p.Stop(t)

	for _, c := range []struct{ before, want string }{
		{"yesterday", "--before must be YYYY-MM-DD or RFC 3339"},
		{"", "--before is required"},
	} {
		args := []string{"user", "expire-legacy-hashes", "--db", db}
		if c.before != "" {
			args = append(args, "--before", c.before)
		}
		r := cli(t, nil, args...)
		oneLineError(t, "expire-legacy-hashes "+c.before, r, c.want)
		if r.code != 2 {
			t.Errorf("expire-legacy-hashes %q: exit %d; want 2", c.before, r.code)
		}
	}
	// Accounts created since a date in the past keep their hashes.
	if out := mustCLI(t, nil, "user", "expire-legacy-hashes", "--db", db, "--before", "2020-01-01"); !strings.Contains(out, "of 0 accounts") {
		t.Errorf("--before a date before every account: %s", out)
	}
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Format(time.DateOnly)
	if out := mustCLI(t, nil, "user", "expire-legacy-hashes", "--db", db, "--before", tomorrow); !strings.Contains(out, "of 1 accounts") {
		t.Errorf("--before tomorrow: %s; want one account expired", out)
	}
	if h := storedHash(t, db, legacy); h != "" {
		t.Errorf("legacy hash left: %.20s…", h)
	}

	p = startSandbox(t, filepath.Clean(db))
	for _, c := range []struct {
		user, pw string
		want     int
	}{
		{legacy, djangoPW, 401},
		{migrated, djangoPW, 200},
		{roy, royOldPW, 200},
	} {
		if st := loginStatus(t, p.URL, c.user, c.pw); st != c.want {
			t.Errorf("login of %s after the expiry: %d; want %d", c.user, st, c.want)
		}
	}
	token := resetToken(t, p, legacy)
	if r := p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"token": token, "password": newPW}); r.Status != 204 {
		t.Fatalf("reset of the expired account: %d %s", r.Status, r.Body)
	}
	if st := loginStatus(t, p.URL, legacy, newPW); st != 200 {
		t.Errorf("login with the password set by the reset: %d", st)
	}
	if out := mustCLI(t, nil, "audit", "--db", db, "--email", legacy); !strings.Contains(out, "legacy password hash expired") {
		t.Errorf("the audit trail does not record the expiry:\n%s", out)
	}
}
