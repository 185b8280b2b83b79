package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

func TestMain(m *testing.M) { cruxdtest.Main(m) }

// store is one database a behaviour test runs against.
type store struct {
	name string
	db   func(t *testing.T) string // a fresh, empty database for --db
}

// stores returns every store kind the API tests run against.
func stores() []store {
	return []store{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "cruxd.db") }},
		{"postgres", func(t *testing.T) string { return testenv.PostgresDSN(t) }},
	}
}

// forEachStore runs fn as a parallel subtest per store kind.
func forEachStore(t *testing.T, fn func(t *testing.T, db string)) {
	for _, s := range stores() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			fn(t, s.db(t))
		})
	}
}

// startSandbox serves a sandbox cruxd on db with extra args, through run in
// the test process.
func startSandbox(t *testing.T, db string, args ...string) *cruxdtest.Process {
	t.Helper()
	return serve(t, append([]string{"--db", db}, args...))
}

// serve runs `cruxd serve` with args (and env, KEY=VALUE) in the test
// process. Tests that crash, signal or kill cruxd, or need its pid, start
// a real process with cruxdtest.Start instead.
func serve(t *testing.T, args []string, env ...string) *cruxdtest.Process {
	t.Helper()
	return cruxdtest.Run(t, run, args, env...)
}

var resetTokenRE = regexp.MustCompile(`^[A-Za-z0-9]{20}$`)

// resetToken asks for a reset of email in sandbox and returns the token.
func resetToken(t *testing.T, p *cruxdtest.Process, email string) string {
	t.Helper()
	r := p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": email})
	var got struct {
		ResetToken string `json:"reset_token"`
	}
	r.JSON(t, &got)
	if r.Status != 200 || !resetTokenRE.MatchString(got.ResetToken) {
		t.Fatalf("reset %s: %d %s", email, r.Status, r.Body)
	}
	return got.ResetToken
}

// login logs in and returns the decoded 200 body, failing otherwise.
func login(t *testing.T, p *cruxdtest.Process, user, pw string) map[string]any {
	t.Helper()
	r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": user, "password": pw})
	if r.Status != 200 {
		t.Fatalf("login %s: %d %s", user, r.Status, r.Body)
	}
	return r.Map(t)
}

// seedPage returns the seed's Reset Password page.
func seedPage(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/seed-reset-password.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// example returns the code block of the seed page titled title.
func example(t *testing.T, page, lang string) string {
	t.Helper()
	start := strings.Index(page, "~~~ "+lang+"\n")
	if start < 0 {
		t.Fatalf("no %s example in the seed page", lang)
	}
	rest := page[start+len("~~~ "+lang+"\n"):]
	return rest[:strings.Index(rest, "~~~")]
}

// needTool returns the path of an external tool; in CI its absence fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("*** SKIPPING: %s not installed ***", name)
	}
	return p
}
