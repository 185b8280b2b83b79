package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
	"github.com/cruxd/cruxd/internal/storetest"
)

// inProcess runs one cruxd command through run, as main does, with an
// empty environment, and returns its outputs and exit code.
func inProcess(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut, func(string) string { return "" })
	return cliResult{out.String(), errOut.String(), code}
}

// copyWithDamage returns a copy of the SQLite file src with 16 KiB of
// random bytes written into its middle.
func copyWithDamage(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	storetest.Damage(t, dst)
	return dst
}

// sizableDB returns a closed SQLite database holding thousands of
// organizations: many index and table pages.
func sizableDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CreateOrganizations(t, s, 3000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDamagedDatabase: `cruxd check` passes a sound file and fails (exit 1)
// on a copy with 16 KiB of random bytes in it, and serve refuses to start
// on that copy with one line telling the operator to restore a backup.
func TestDamagedDatabase(t *testing.T) {
	t.Parallel()
	path := sizableDB(t)
	if r := inProcess(t, "check", "--db", path); r.code != 0 || !strings.Contains(r.stdout, "ok") {
		t.Fatalf("check of a sound file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	damaged := copyWithDamage(t, path)
	r := inProcess(t, "check", "--db", damaged)
	oneLineError(t, "check of a damaged file", r, "from a backup")
	if r.code != 1 {
		t.Errorf("check of a damaged file: exit %d, want 1", r.code)
	}
	r = inProcess(t, "serve", "--db", damaged, "--addr", "127.0.0.1:0")
	oneLineError(t, "serve on a damaged file", r, "restore the file from a backup")
}

// newerSchema records a migration one past the newest this binary knows in
// db, after migrating it, and returns the two versions.
func newerSchema(t *testing.T, db string) (database, binary int) {
	t.Helper()
	mustCLI(t, nil, "migrate", "--db", db)
	ctx := context.Background()
	if strings.HasPrefix(db, "postgres") {
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&binary); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'newer')`, binary+1); err != nil {
			t.Fatal(err)
		}
		return binary + 1, binary
	}
	sdb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	if err := sdb.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&binary); err != nil {
		t.Fatal(err)
	}
	if _, err := sdb.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, binary+1); err != nil {
		t.Fatal(err)
	}
	return binary + 1, binary
}

// TestNewerSchemaRefused: on a database a newer cruxd migrated, serve,
// migrate and the admin commands that write exit 2 with one line naming
// both versions; --allow-newer-schema lets them run.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db string) {
		database, binary := newerSchema(t, db)
		want := fmt.Sprintf("schema is at migration %d, newer than this cruxd's %d", database, binary)
		for _, args := range [][]string{
			{"serve", "--addr", "127.0.0.1:0"},
			{"migrate"},
			{"org", "add", "--name", "Acme", "--type", "RETAILER"},
			{"purge"},
		} {
			r := cli(t, nil, append(args, "--db", db)...)
			oneLineError(t, args[0], r, want)
			if r.code != 2 {
				t.Errorf("%s on a newer schema: exit %d, want 2", args[0], r.code)
			}
		}
		mustCLI(t, nil, "org", "add", "--db", db, "--allow-newer-schema", "--name", "Acme", "--type", "RETAILER")
	})
}

// TestBannerShowsHeldDemoAccounts: a sandbox start on a database that holds
// users but was never seeded lists no demo account and no password.
func TestBannerShowsHeldDemoAccounts(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "cruxd.db")
	mustCLI(t, nil, "org", "add", "--db", db, "--name", "Acme Retail", "--type", "RETAILER")
	mustCLI(t, ptr("a long admin-chosen passphrase 7\n"), "user", "add", "--db", db, "--org", "Acme Retail", "--email", "alice@acme.example")
	p := startSandbox(t, db)
	out := p.Stdout()
	for _, u := range account.DemoUsers {
		if strings.Contains(out, u.Email) || (u.Password != "" && strings.Contains(out, u.Password)) {
			t.Errorf("banner on a never-seeded database lists demo account %s:\n%s", u.Email, out)
		}
	}
	if !strings.Contains(out, "no demo accounts") {
		t.Errorf("banner does not say there are no demo accounts:\n%s", out)
	}
}
