package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/postgres"
	"github.com/cruxd/cruxd/internal/sqlite"
	"github.com/cruxd/cruxd/internal/testenv"
)

// Hashes made by reference implementations, with their passwords.
const (
	// pyca/bcrypt tests/test_bcrypt.py ($2b$).
	bcrypt2bPW, bcrypt2b = "Kk4DQuMMfZL9o", "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"
	// Openwall crypt_blowfish wrapper.c ($2a$).
	bcrypt2aPW, bcrypt2a = "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	// PHP manual, password_verify ($2y$).
	bcrypt2yPW, bcrypt2y = "rasmuslerdorf", "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
	// phc-winner-argon2 src/test.c and README (m=64 MiB: not cruxd's
	// parameters, so it is rehashed too).
	argonRefPW, argonRef = "password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	djangoPW             = "django imported pässword"
)

// djangoHash returns Django's pbkdf2_sha256 hash of pw with iter
// iterations, made by Python's hashlib the way django.contrib.auth.hashers
// does.
func djangoHash(t *testing.T, pw string, iter int) string {
	t.Helper()
	py := needTool(t, "python3")
	script := `import base64, hashlib, sys
pw, salt, it = sys.argv[1], sys.argv[2], int(sys.argv[3])
key = hashlib.pbkdf2_hmac("sha256", pw.encode("utf-8"), salt.encode("utf-8"), it)
print("pbkdf2_sha256$%d$%s$%s" % (it, salt, base64.b64encode(key).decode("ascii")))`
	out, err := exec.Command(py, "-c", script, pw, "Xq9tZ1sw0rDsAlt", strconv.Itoa(iter)).Output()
	if err != nil {
		t.Fatalf("python3 hashlib: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// storedHash reads a user's password hash through the store.
func storedHash(t *testing.T, db, email string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		s   account.Store
		err error
	)
	if strings.HasPrefix(db, "postgres") {
		s, err = postgres.Open(ctx, db, postgres.Options{NoMigrate: true})
	} else {
		s, err = sqlite.Open(ctx, db)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var u *account.User
	if err := s.View(ctx, func(tx account.Tx) (err error) { u, err = tx.UserByEmail(ctx, email); return err }); err != nil {
		t.Fatalf("find %s: %v", email, err)
	}
	return u.PasswordHash
}

// TestImportLegacyHashes imports accounts with Django pbkdf2_sha256, bcrypt
// $2a$/$2b$/$2y$ and argon2id hashes from reference implementations, on
// SQLite and PostgreSQL: bad lines are reported by number without stopping,
// a second run skips what exists, each account logs in, and its first login
// replaces the hash with cruxd's argon2id.
func TestImportLegacyHashes(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "cruxd.db")
			if kind == "postgres" {
				db = testenv.PostgresDSN(t)
			}
			testImport(t, db)
		})
	}
}

func testImport(t *testing.T, db string) {
	users := []struct{ email, pw, hash string }{
		{"django@legacy.example", djangoPW, djangoHash(t, djangoPW, 260000)},
		{"bcrypt2b@legacy.example", bcrypt2bPW, bcrypt2b},
		{"bcrypt2a@legacy.example", bcrypt2aPW, bcrypt2a},
		{"bcrypt2y@legacy.example", bcrypt2yPW, bcrypt2y},
		{"argon@legacy.example", argonRefPW, argonRef},
	}
	line := func(email, org, typ, hash, extra string) string {
		return fmt.Sprintf(`{"email": %q, "first_name": "Leg", "last_name": "Acy", "organization": %q, "org_type": %q, "password_hash": %q%s}`,
			email, org, typ, hash, extra)
	}
	var good []string
	for i, u := range users {
		org, typ := "Legacy Retail", "RETAILER"
		if i%2 == 1 {
			org, typ = "Legacy Supplies", "SUPPLIER"
		}
		good = append(good, line(u.email, org, typ, u.hash, ""))
	}
	good = append(good, line("waiting@legacy.example", "Legacy Retail", "RETAILER", bcrypt2a, `, "status": "CONFIRMATION WAITING"`))
	bad := []struct{ line, want string }{
		{line("badhash@legacy.example", "Legacy Retail", "RETAILER", "md5$abc$def", ""), "password_hash: Not a supported password hash"},
		{line("shorthash@legacy.example", "Legacy Retail", "RETAILER", "$2b$04$tooShort", ""), "password_hash: Not a supported password hash"},
		{line("cost@legacy.example", "Legacy Retail", "RETAILER", "pbkdf2_sha256$99999999$salt$"+strings.Repeat("A", 43)+"=", ""), "password_hash: "},
		{line("not an address", "Legacy Retail", "RETAILER", bcrypt2a, ""), "email: " + account.MsgInvalidEmail},
		{line("newtype@legacy.example", "New Org", "WHOLESALER", bcrypt2a, ""), `org_type: "WHOLESALER" is not a valid choice.`},
		{line("mismatch@legacy.example", "Legacy Retail", "SUPPLIER", bcrypt2a, ""), "is a RETAILER, not a SUPPLIER"},
		{line("status@legacy.example", "Legacy Retail", "RETAILER", bcrypt2a, `, "status": "SLEEPING"`), "status: "},
		{`{"email": "nohash@legacy.example", "organization": "Legacy Retail", "org_type": "RETAILER"}`, "password_hash: This field is required."},
		{`{"email": 42}`, "email: not a string"},
		{`this is not JSON`, "not a JSON object"},
	}
	// Interleave: bad lines between good ones, and a blank line.
	var lines []string
	want := map[int]string{}
	for i, g := range good {
		lines = append(lines, g)
		if i < len(bad) {
			lines = append(lines, bad[i].line)
			want[len(lines)] = bad[i].want
		}
	}
	for _, b := range bad[len(good):] {
		lines = append(lines, b.line)
		want[len(lines)] = b.want
	}
	lines = append(lines, "")
	file := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := cli(t, nil, "import", file, "--db", db)
	if r.code != 1 {
		t.Errorf("import with bad lines: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for n, w := range want {
		prefix := fmt.Sprintf("line %d: error: ", n)
		found := false
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("import did not report line %d with %q:\n%s", n, w, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("imported %d, skipped 0 (already there), failed %d", len(good), len(bad))) {
		t.Errorf("import summary:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc") {
		t.Error("import printed a hash")
	}

	// Again, good lines only: all skipped, exit 0.
	if err := os.WriteFile(file, []byte(strings.Join(good, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, nil, "import", "--db", db, file)
	if !strings.Contains(out, fmt.Sprintf("imported 0, skipped %d (already there), failed 0", len(good))) ||
		!strings.Contains(out, "line 1: skipped: an account already uses django@legacy.example") {
		t.Errorf("second import:\n%s", out)
	}
	list := mustCLI(t, nil, "user", "list", "--db", db)
	for _, w := range []string{"pbkdf2_sha256", "bcrypt", "argon2id", "Legacy Supplies", "SUPPLIER", "CONFIRMATION WAITING"} {
		if !strings.Contains(list, w) {
			t.Errorf("user list lacks %q:\n%s", w, list)
		}
	}

	p := startSandbox(t, db)
	for _, u := range users {
		if h := storedHash(t, db, u.email); h != u.hash {
			t.Fatalf("%s: stored hash changed before any login", u.email)
		}
		login(t, p, u.email, u.pw)
		h := storedHash(t, db, u.email)
		if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Errorf("%s: hash after the first login is not cruxd's argon2id: %.30s…", u.email, h)
		}
		login(t, p, u.email, u.pw) // the new hash works
		if r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": u.email, "password": u.pw + "x"}); r.Status != 401 {
			t.Errorf("%s: wrong password after rehash: %d", u.email, r.Status)
		}
		if h2 := storedHash(t, db, u.email); h2 != h {
			t.Errorf("%s: hash replaced again by a login with current parameters", u.email)
		}
	}
	// An imported account that is not active cannot log in.
	if r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": "waiting@legacy.example", "password": bcrypt2aPW}); r.Status != 401 {
		t.Errorf("CONFIRMATION WAITING import logged in: %d", r.Status)
	}
	p.Stop(t)
	if trail := mustCLI(t, nil, "audit", "--db", db, "--email", "django@legacy.example"); !strings.Contains(trail, "user imported") {
		t.Errorf("audit trail of an imported user:\n%s", trail)
	}
}
