package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/cruxdtest"
	_ "modernc.org/sqlite" // the driver sqlExec uses
)

// cliResult is what one run of a cruxd admin command did.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs the cruxd binary with args, stdin piped from stdin when it is
// not nil (else /dev/null, as from cron), and returns its outputs and exit
// code.
func cli(t *testing.T, stdin *string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cruxdtest.Binary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "USER=tester"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != nil {
		cmd.Stdin = strings.NewReader(*stdin)
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("cruxd %v: %v", args, err)
	}
	return cliResult{out.String(), errOut.String(), cmd.ProcessState.ExitCode()}
}

// mustCLI runs cli and fails the test unless it exits 0.
func mustCLI(t *testing.T, stdin *string, args ...string) string {
	t.Helper()
	r := cli(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("cruxd %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func ptr(s string) *string { return &s }

// oneLineError fails unless stderr is exactly one line starting "cruxd: "
// and holding want, without a stack trace.
func oneLineError(t *testing.T, what string, r cliResult, want string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("%s: exit 0, want non-zero\nstdout: %s", what, r.stdout)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "cruxd: ") || strings.Contains(r.stderr, "goroutine") {
		t.Errorf("%s: stderr is not one cruxd: line:\n%s", what, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("%s: stderr %q does not say %q", what, r.stderr, want)
	}
}

var tokenLine = regexp.MustCompile(`reset token for \S+: ([A-Za-z0-9]{20})\n`)

// TestAdminCommands runs the admin commands of the issue on each store (a
// real SQLite file, a real PostgreSQL database), checks their effect through
// the API of a real cruxd on the same database, and checks that bad input
// gets one line and a non-zero exit.
func TestAdminCommands(t *testing.T) {
	t.Parallel()
	forEachStore(t, testAdminCommands)
}

func testAdminCommands(t *testing.T, db string) {
	const pw = "a long admin-chosen passphrase 7"

	mustCLI(t, nil, "org", "add", "--db", db, "--name", "Acme Retail", "--type", "RETAILER")
	mustCLI(t, nil, "org", "add", "--db", db, "--name", "Parts Co", "--type", "supplier")

	// Password piped on stdin: checked by the policy, then usable.
	out := mustCLI(t, ptr(pw+"\n"), "user", "add", "--db", db, "--org", "Acme Retail",
		"--email", "Alice@Acme.example", "--first", "Alice", "--last", "Archer")
	if !strings.Contains(out, "alice@acme.example") || tokenLine.MatchString(out) {
		t.Errorf("user add with a piped password printed:\n%s", out)
	}
	// No stdin: a reset token and link instead.
	out = mustCLI(t, nil, "user", "add", "--db", db, "--org", "Parts Co", "--email", "bob@parts.example",
		"--first", "Bob", "--public-url", "https://accounts.example/")
	m := tokenLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "reset link: https://accounts.example/reset-password/#token="+m[1]+"\n") {
		t.Fatalf("user add without stdin printed no token and link:\n%s", out)
	}
	bobToken := m[1]

	bad := []struct {
		name  string
		stdin *string
		args  []string
		want  string
		code  int
	}{
		{"unknown org", nil, []string{"user", "add", "--org", "Nope", "--email", "c@x.example"}, `No organization is named "Nope".`, 1},
		{"bad type", nil, []string{"org", "add", "--name", "Z", "--type", "WHOLESALER"}, `type: "WHOLESALER" is not a valid choice.`, 1},
		{"duplicate org", nil, []string{"org", "add", "--name", "Acme Retail", "--type", "RETAILER"}, account.MsgOrgAlreadyExists, 1},
		{"duplicate e-mail", nil, []string{"user", "add", "--org", "Acme Retail", "--email", "ALICE@acme.example"}, account.MsgUserAlreadyExists, 1},
		{"weak password", ptr("password\n"), []string{"user", "add", "--org", "Acme Retail", "--email", "d@acme.example"}, "password: ", 1},
		{"password is the address", ptr("eve.longname@acme.example\n"), []string{"user", "add", "--org", "Acme Retail", "--email", "eve.longname@acme.example"}, "password: ", 1},
		{"empty piped password", ptr(""), []string{"user", "add", "--org", "Acme Retail", "--email", "e@acme.example"}, "no password", 1},
		{"bad e-mail", nil, []string{"user", "add", "--org", "Acme Retail", "--email", "not an address"}, "email: " + account.MsgInvalidEmail, 1},
		{"missing --org", nil, []string{"user", "add", "--email", "f@acme.example"}, "--org is required", 2},
		{"missing --email", nil, []string{"user", "deactivate"}, "--email is required", 2},
		{"missing --name", nil, []string{"org", "add", "--type", "RETAILER"}, "--name is required", 2},
		{"missing verb", nil, []string{"user"}, "needs a command", 2},
		{"unknown verb", nil, []string{"user", "remove", "--email", "a@b.example"}, "unknown command", 2},
		{"deactivate unknown", nil, []string{"user", "deactivate", "--email", "nobody@acme.example"}, account.MsgNoSuchUser, 1},
		{"reactivate unknown", nil, []string{"user", "reactivate", "--email", "nobody@acme.example"}, account.MsgNoSuchUser, 1},
		{"reset-link unknown", nil, []string{"user", "reset-link", "--email", "nobody@acme.example"}, account.MsgNoActiveAccount, 1},
		{"purge retention too short", nil, []string{"purge", "--retention", "1m"}, "at least an hour", 1},
		{"audit without --email", nil, []string{"audit"}, "--email is required", 2},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args[:len(tc.args):len(tc.args)], "--db", db)
			r := cli(t, tc.stdin, args...)
			oneLineError(t, tc.name, r, tc.want)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
		})
	}

	list := mustCLI(t, nil, "user", "list", "--db", db)
	for _, want := range []string{"alice@acme.example", "Alice Archer", "Acme Retail", "RETAILER", "argon2id",
		"bob@parts.example", "Parts Co", "SUPPLIER", "none"} {
		if !strings.Contains(list, want) {
			t.Errorf("user list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "d@acme.example") {
		t.Errorf("a refused user was created:\n%s", list)
	}

	// The API on the same database honours what the commands did.
	p := startSandbox(t, db)
	alice := login(t, p, "alice@acme.example", pw)
	aliceAuth := "Token " + alice["auth_token"].(string)
	if r := p.Do(t, "GET", "/organizations/complete-password/?token="+bobToken, nil); r.Status != 200 {
		t.Fatalf("validate the token user add printed: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": bobToken}); r.Status != 204 {
		t.Fatalf("complete with the token user add printed: %d %s", r.Status, r.Body)
	}
	login(t, p, "bob@parts.example", newPW)

	// reset-link gives a working token.
	out = mustCLI(t, nil, "user", "reset-link", "--db", db, "--email", "alice@acme.example")
	m = tokenLine.FindStringSubmatch(out)
	if m == nil || strings.Contains(out, "reset link:") {
		t.Fatalf("user reset-link printed:\n%s", out)
	}
	if r := p.Do(t, "GET", "/organizations/complete-password/?token="+m[1], nil); r.Status != 200 || r.Map(t)["email"] != "alice@acme.example" {
		t.Fatalf("validate the reset-link token: %d %s", r.Status, r.Body)
	}

	// deactivate: login refused, the auth token and the reset token revoked.
	mustCLI(t, nil, "user", "deactivate", "--db", db, "--email", "alice@acme.example")
	if r := p.Do(t, "GET", "/organizations/users/detail/"+alice["user_uuid"].(string)+"/", nil, "Authorization", aliceAuth); r.Status != 401 {
		t.Errorf("auth token of a deactivated user: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "GET", "/organizations/complete-password/?token="+m[1], nil); r.Status != 404 {
		t.Errorf("reset token of a deactivated user: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": "alice@acme.example", "password": pw}); r.Status != 401 {
		t.Errorf("login of a deactivated user: %d %s", r.Status, r.Body)
	}
	if list := mustCLI(t, nil, "user", "list", "--db", db); !regexp.MustCompile(`alice@acme.example .*DEACTIVATED`).MatchString(list) {
		t.Errorf("user list after deactivate:\n%s", list)
	}

	// reactivate: the password logs in again; the revoked tokens stay revoked.
	mustCLI(t, nil, "user", "reactivate", "--db", db, "--email", "alice@acme.example")
	if r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": "alice@acme.example", "password": pw}); r.Status != 200 {
		t.Errorf("login of a reactivated user: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "GET", "/organizations/users/detail/"+alice["user_uuid"].(string)+"/", nil, "Authorization", aliceAuth); r.Status != 401 {
		t.Errorf("auth token revoked before the reactivation: %d %s", r.Status, r.Body)
	}
	p.Stop(t)

	// The admin actions are in the audit trail, with who did them.
	trail := mustCLI(t, nil, "audit", "--db", db, "--email", "ALICE@acme.example")
	for _, want := range []string{"user created", "reset link issued", "user deactivated", "cruxd user deactivate (by tester)", "user reactivated", "login.succeeded"} {
		if !strings.Contains(trail, want) {
			t.Errorf("audit trail lacks %q:\n%s", want, trail)
		}
	}
}

// TestPurgeCommand runs cruxd purge on a database with spent tokens (the
// 3 oldest of 6, revoked by the newest-3 rule), an expired auth token and
// old audit rows, with a tiny batch, and checks what is left.
func TestPurgeCommand(t *testing.T) {
	t.Parallel()
	forEachStore(t, testPurgeCommand)
}

func testPurgeCommand(t *testing.T, db string) {
	p := startSandbox(t, db)
	for range 5 {
		resetToken(t, p, roy)
	}
	live := resetToken(t, p, roy)
	oldSession := login(t, p, roy, royOldPW)["auth_token"].(string)
	session := login(t, p, roy, royOldPW)
	p.Stop(t)

	// Nothing is old enough yet.
	out := mustCLI(t, nil, "purge", "--db", db, "--batch", "2")
	if !strings.Contains(out, "purged 0 spent or expired reset tokens") || !strings.Contains(out, "purged 0 audit events") {
		t.Errorf("purge of a fresh database:\n%s", out)
	}

	// Age the revoked tokens, one session and the audit trail by two years,
	// as a clock would.
	ageTwoYears(t, db, account.Digest(oldSession))
	out = mustCLI(t, nil, "purge", "--db", db, "--batch", "2", "--audit-retention", "8760h")
	if !strings.Contains(out, "purged 3 spent or expired reset tokens") {
		t.Errorf("purge did not take the 3 revoked tokens in batches of 2:\n%s", out)
	}
	if !strings.Contains(out, "purged 1 expired auth tokens") {
		t.Errorf("purge did not take the auth token issued two years ago:\n%s", out)
	}
	if !regexp.MustCompile(`purged [1-9]\d* audit events`).MatchString(out) {
		t.Errorf("purge did not take the old audit events:\n%s", out)
	}
	p = startSandbox(t, db)
	if r := p.Do(t, "GET", "/organizations/complete-password/?token="+live, nil); r.Status != 200 {
		t.Errorf("the live token did not survive the purge: %d %s", r.Status, r.Body)
	}
	detail := "/organizations/users/detail/" + session["user_uuid"].(string) + "/"
	if r := p.Do(t, "GET", detail, nil, "Authorization", "Token "+session["auth_token"].(string)); r.Status != 200 {
		t.Errorf("the live auth token did not survive the purge: %d %s", r.Status, r.Body)
	}
}

// ageTwoYears moves the revoked reset tokens, the auth token with
// sessionDigest and every audit event two years into the past, in either
// store's SQL.
func ageTwoYears(t *testing.T, db string, sessionDigest []byte) {
	t.Helper()
	if !strings.HasPrefix(db, "postgres://") {
		const ns = int64(2 * 365 * 24 * time.Hour)
		sqlExec(t, db, `UPDATE reset_tokens SET created_at = created_at - ?1, expires_at = expires_at - ?1,
			revoked_at = revoked_at - ?1 WHERE revoked_at IS NOT NULL`, ns)
		sqlExec(t, db, `UPDATE audit SET at = at - ?1`, ns)
		sqlExec(t, db, `UPDATE auth_tokens SET created_at = created_at - ?1 WHERE digest = ?2`, ns, sessionDigest)
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`UPDATE reset_tokens SET created_at = created_at - interval '730 days',
			expires_at = expires_at - interval '730 days', revoked_at = revoked_at - interval '730 days'
			WHERE revoked_at IS NOT NULL`, nil},
		{`UPDATE audit SET at = at - interval '730 days'`, nil},
		{`UPDATE auth_tokens SET created_at = created_at - interval '730 days' WHERE digest = $1`, []any{sessionDigest}},
	} {
		if _, err := conn.Exec(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
}

// sqlExec runs one statement on a SQLite database file no cruxd holds.
func sqlExec(t *testing.T, path, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// runInProcess runs cruxd's run with args and an empty environment, and
// returns stdout, stderr and the exit code.
func runInProcess(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(string) string { return "" })
	return out.String(), errOut.String(), code
}

// TestAdminUsesServeSettings: the admin commands build their Service from
// the flags serve reads. `user reset-link --reset-ttl 10m` stores a token
// that lives 10 minutes and says so, and --no-migrate is honoured on
// SQLite.
func TestAdminUsesServeSettings(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "cruxd.db")
	if _, errOut, code := runInProcess(t, "user", "list", "--db", db, "--no-migrate"); code != 1 || !strings.Contains(errOut, "run cruxd migrate") {
		t.Errorf("--no-migrate on a new SQLite file: exit %d, stderr %q", code, errOut)
	}
	// import reads no stdin, which the test process may or may not have.
	users := filepath.Join(t.TempDir(), "users.jsonl")
	rec := `{"email": "alice@acme.example", "organization": "Acme Retail", "org_type": "RETAILER", "password_hash": "` + bcrypt2b + `"}` + "\n"
	if err := os.WriteFile(users, []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"migrate", "--db", db},
		{"import", users, "--db", db, "--no-migrate"},
	} {
		if _, errOut, code := runInProcess(t, args...); code != 0 {
			t.Fatalf("cruxd %v: exit %d: %s", args, code, errOut)
		}
	}
	out, errOut, code := runInProcess(t, "user", "reset-link", "--db", db, "--email", "Alice@Acme.example", "--reset-ttl", "10m")
	if code != 0 || !tokenLine.MatchString(out) || !strings.Contains(out, "(in 10 minutes)") {
		t.Fatalf("user reset-link --reset-ttl 10m: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The newest token's row: created and expiry come from one clock reading.
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var life int64
	if err := raw.QueryRow(`SELECT expires_at - created_at FROM reset_tokens ORDER BY created_at DESC LIMIT 1`).Scan(&life); err != nil {
		t.Fatal(err)
	}
	if time.Duration(life) != 10*time.Minute {
		t.Errorf("stored token lives %v, want 10m", time.Duration(life))
	}
}
