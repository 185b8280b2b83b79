package account_test

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// clock is a test clock that only moves when told.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// MustOpenService returns a sandbox Service on a fresh SQLite file with the
// demo data seeded, and its clock.
func MustOpenService(tb testing.TB, cfg account.Config) (*account.Service, *clock) {
	tb.Helper()
	svc, _ := mustOpenStoreService(tb, filepath.Join(tb.TempDir(), "cruxd.db"), cfg)
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	svc.Now = c.Now
	if _, err := svc.SeedSandbox(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return svc, c
}

// mustOpenStoreService returns a Service with the real hasher and the
// default policy on the SQLite file at path, closed when the test ends.
func mustOpenStoreService(tb testing.TB, path string, cfg account.Config) (*account.Service, *sqlite.Store) {
	tb.Helper()
	store, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	hasher, err := password.NewHasher(password.DefaultParams)
	if err != nil {
		tb.Fatal(err)
	}
	policy, err := password.NewPolicy(password.DefaultMinLength)
	if err != nil {
		tb.Fatal(err)
	}
	return account.NewService(store, hasher, policy, cfg, nil), store
}

const (
	bailey = "mrbailey@projectthanos.com"
	roy    = "rbreslawski@cruxsupplier.com"
	goodPW = "correct horse battery staple 42"
)

func mustReset(tb testing.TB, svc *account.Service, email string) string {
	tb.Helper()
	tok, err := svc.RequestReset(context.Background(), email, account.Meta{IP: "127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := account.ErrorCode(err); got != code {
		tb.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestResetTokenFormat(t *testing.T) {
	svc, _ := MustOpenService(t, account.Config{})
	re := regexp.MustCompile(`^[A-Za-z0-9]{20}$`)
	seen := map[string]bool{}
	for range 20 {
		tok := mustReset(t, svc, bailey)
		if !re.MatchString(tok) || seen[tok] {
			t.Fatalf("token %q: malformed or repeated", tok)
		}
		seen[tok] = true
	}
}

func TestResetTokenLifetime(t *testing.T) {
	ctx := context.Background()
	svc, clk := MustOpenService(t, account.Config{})
	tok := mustReset(t, svc, bailey)
	clk.Advance(2*time.Hour - time.Second)
	if email, err := svc.ValidateReset(ctx, tok); err != nil || email != bailey {
		t.Fatalf("just before 2 h: %q %v", email, err)
	}
	clk.Advance(time.Second)
	_, err := svc.ValidateReset(ctx, tok)
	wantCode(t, err, account.ENOTFOUND)
	wantCode(t, svc.CompleteReset(ctx, tok, goodPW, account.Meta{}), account.ENOTFOUND)
}

func TestResetTokenLifetimeConfigurable(t *testing.T) {
	svc, clk := MustOpenService(t, account.Config{ResetTTL: 10 * time.Minute})
	tok := mustReset(t, svc, bailey)
	clk.Advance(10 * time.Minute)
	_, err := svc.ValidateReset(context.Background(), tok)
	wantCode(t, err, account.ENOTFOUND)
}

func TestResetTokenSingleUse(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	tok := mustReset(t, svc, bailey)
	if err := svc.CompleteReset(ctx, tok, goodPW, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, svc.CompleteReset(ctx, tok, goodPW+"!", account.Meta{}), account.ENOTFOUND)
	_, err := svc.ValidateReset(ctx, tok)
	wantCode(t, err, account.ENOTFOUND)
}

func TestNewestThreeTokensLive(t *testing.T) {
	ctx := context.Background()
	svc, clk := MustOpenService(t, account.Config{})
	var toks []string
	for range 4 {
		toks = append(toks, mustReset(t, svc, bailey))
		clk.Advance(time.Second)
	}
	_, err := svc.ValidateReset(ctx, toks[0])
	wantCode(t, err, account.ENOTFOUND)
	for _, tok := range toks[1:] {
		if _, err := svc.ValidateReset(ctx, tok); err != nil {
			t.Errorf("newer token retired: %v", err)
		}
	}
}

func TestCompleteRevokesOtherTokensAndSessions(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	sess, err := svc.Login(ctx, roy, "thanos_rocks", account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	other := mustReset(t, svc, roy)
	tok := mustReset(t, svc, roy)
	if err := svc.CompleteReset(ctx, tok, goodPW, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.ValidateReset(ctx, other)
	wantCode(t, err, account.ENOTFOUND)
	_, err = svc.Authenticate(ctx, sess.AuthToken)
	wantCode(t, err, account.EUNAUTHORIZED)
	_, err = svc.Login(ctx, roy, "thanos_rocks", account.Meta{})
	wantCode(t, err, account.EUNAUTHORIZED)
	if _, err := svc.Login(ctx, roy, goodPW, account.Meta{}); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyRefusalKeepsToken(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	tok := mustReset(t, svc, bailey)
	for _, pw := range []string{"short", "1234567890987654321", bailey, "MrBailey"} {
		err := svc.CompleteReset(ctx, tok, pw, account.Meta{})
		var e *account.Error
		if account.ErrorCode(err) != account.EINVALID || !asError(err, &e) || e.Field != "password" {
			t.Errorf("password %q: %v, want EINVALID on the password field", pw, err)
		}
	}
	if _, err := svc.ValidateReset(ctx, tok); err != nil {
		t.Fatalf("token not live after refusals: %v", err)
	}
}

func TestUnknownOrInactiveEmailInSandbox(t *testing.T) {
	svc, _ := MustOpenService(t, account.Config{})
	_, err := svc.RequestReset(context.Background(), "nobody@example.com", account.Meta{})
	wantCode(t, err, account.EUNPROCESSABLE)
}

func TestLoginFailuresLookAlike(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	_, errUnknown := svc.Login(ctx, "nobody@example.com", "whatever", account.Meta{})
	_, errWrong := svc.Login(ctx, roy, "wrong password", account.Meta{})
	_, errNoPW := svc.Login(ctx, bailey, "", account.Meta{})
	_, errJunk := svc.Login(ctx, "not an address", "x", account.Meta{})
	for _, err := range []error{errUnknown, errWrong, errNoPW, errJunk} {
		if err == nil || err.Error() != errWrong.Error() {
			t.Errorf("login failure %v differs from %v", err, errWrong)
		}
	}
}

func TestProductionReturnsNoToken(t *testing.T) {
	svc, _ := MustOpenService(t, account.Config{Mode: account.Production, Mail: true})
	for _, email := range []string{bailey, "nobody@example.com"} {
		tok, err := svc.RequestReset(context.Background(), email, account.Meta{IP: "192.0.2.1"})
		if err != nil || tok != "" {
			t.Errorf("%s: token %q err %v, want none", email, tok, err)
		}
	}
}

func TestIPLimitThrottles(t *testing.T) {
	svc, clk := MustOpenService(t, account.Config{Limits: account.Limits{ResetCallsPerIPMinute: 2}})
	m := account.Meta{IP: "192.0.2.7"}
	ctx := context.Background()
	for i := range 2 {
		if _, err := svc.RequestReset(ctx, bailey, m); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := svc.RequestReset(ctx, "nobody@example.com", m)
	wantCode(t, err, account.ETHROTTLED)
	clk.Advance(time.Minute)
	if _, err := svc.RequestReset(ctx, bailey, m); err != nil {
		t.Fatalf("next window: %v", err)
	}
}

func asError(err error, target **account.Error) bool {
	e, ok := err.(*account.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestAuthTokenExpiresAndLogout(t *testing.T) {
	ctx := context.Background()
	svc, clk := MustOpenService(t, account.Config{AuthTTL: time.Hour})
	old, err := svc.Login(ctx, roy, "thanos_rocks", account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour - time.Second)
	if _, err := svc.Authenticate(ctx, old.AuthToken); err != nil {
		t.Fatalf("just before the lifetime: %v", err)
	}
	clk.Advance(time.Second)
	_, err = svc.Authenticate(ctx, old.AuthToken)
	wantCode(t, err, account.EUNAUTHORIZED)

	sess, err := svc.Login(ctx, roy, "thanos_rocks", account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := svc.Login(ctx, roy, "thanos_rocks", account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Logout(ctx, sess.AuthToken, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Authenticate(ctx, sess.AuthToken)
	wantCode(t, err, account.EUNAUTHORIZED)
	wantCode(t, svc.Logout(ctx, sess.AuthToken, account.Meta{}), account.EUNAUTHORIZED)
	if _, err := svc.Authenticate(ctx, other.AuthToken); err != nil {
		t.Fatalf("logout ended another session: %v", err)
	}
}

// TestReady: Ready answers nil while the store answers, and an error once
// it is closed.
func TestReady(t *testing.T) {
	ctx := context.Background()
	svc, store := mustOpenStoreService(t, filepath.Join(t.TempDir(), "cruxd.db"), account.Config{})
	if err := svc.Ready(ctx); err != nil {
		t.Fatalf("Ready on an open store: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Ready(ctx); err == nil {
		t.Error("Ready on a closed store: nil")
	}
}

// TestAddressesInAnyCase: the Service normalises every address it is given,
// so the stores match them as they are.
func TestAddressesInAnyCase(t *testing.T) {
	ctx := context.Background()
	svc, _ := MustOpenService(t, account.Config{})
	tok := mustReset(t, svc, "  RBreslawski@CruxSupplier.com ")
	if err := svc.CompleteReset(ctx, tok, goodPW, account.Meta{}); err != nil {
		t.Fatalf("complete the reset asked in another case: %v", err)
	}
	if _, err := svc.Login(ctx, "RBRESLAWSKI@cruxsupplier.com", goodPW, account.Meta{}); err != nil {
		t.Errorf("login in another case: %v", err)
	}
	if _, _, err := svc.IssueResetToken(ctx, " RBreslawski@CRUXSUPPLIER.com", account.Meta{}); err != nil {
		t.Errorf("admin reset link in another case: %v", err)
	}
	_, err := svc.CreateUser(ctx, account.NewUser{OrgName: "Crux Supplier", Email: "RBRESLAWSKI@CruxSupplier.com"})
	wantCode(t, err, account.ECONFLICT)
	if err := svc.DeactivateUser(ctx, "RBreslawski@CruxSupplier.com ", account.Meta{}); err != nil {
		t.Errorf("deactivate in another case: %v", err)
	}
}

func TestLimitsInForce(t *testing.T) {
	l := account.ProductionLimits
	if got := account.LimitsInForce(account.Production, false, l); got != l {
		t.Errorf("production without --limits: %+v, want %+v", got, l)
	}
	if got := account.LimitsInForce(account.Sandbox, false, l); got != (account.Limits{}) {
		t.Errorf("sandbox: %+v, want none", got)
	}
	if got := account.LimitsInForce(account.Sandbox, true, l); got != l {
		t.Errorf("sandbox with --limits: %+v, want %+v", got, l)
	}
}

// TestAdminResetTokenLifetime: a token an administrator issues lives
// Config.ResetTTL, as one asked for by mail does.
func TestAdminResetTokenLifetime(t *testing.T) {
	ctx := context.Background()
	svc, clock := MustOpenService(t, account.Config{ResetTTL: 10 * time.Minute})
	tok, expires, err := svc.IssueResetToken(ctx, roy, account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(10 * time.Minute); !expires.Equal(want) {
		t.Errorf("expires %v, want %v", expires, want)
	}
	clock.Advance(10*time.Minute - time.Second)
	if _, err := svc.ValidateReset(ctx, tok); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	clock.Advance(time.Second)
	_, err = svc.ValidateReset(ctx, tok)
	wantCode(t, err, account.ENOTFOUND)
}
