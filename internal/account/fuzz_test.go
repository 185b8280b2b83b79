package account_test

import (
	"context"
	"errors"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// FuzzNormalizeEmail: an accepted address is a plain, printable addr-spec
// that can never carry a mail header, normalization is idempotent, and a
// refusal is an EINVALID field error that does not quote the input.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"mrbailey@projectthanos.com", "  RBreslawski@CruxSupplier.com ", "a@b.c\r\nBcc: x@y.z",
		"Mr Bailey <mrbailey@projectthanos.com>", "\"a b\"@c.d", "a@b", "é@ü.de", "a@b.c\x00", "@", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		e, err := account.NormalizeEmail("email", raw)
		if err != nil {
			var de *account.Error
			if account.ErrorCode(err) != account.EINVALID || !errors.As(err, &de) || de.Field != "email" {
				t.Fatalf("NormalizeEmail(%q) = %v: want an EINVALID error on the email field", raw, err)
			}
			if len(raw) > 3 && strings.Contains(de.Message, raw) {
				t.Fatalf("error message quotes the input: %q", de.Message)
			}
			return
		}
		if e == "" || len(e) > 254 || !utf8.ValidString(e) {
			t.Fatalf("NormalizeEmail(%q) = %q: empty, too long or not UTF-8", raw, e)
		}
		if strings.ContainsAny(e, "\r\n\t \x00<>\",;:()[]\\") || strings.ToLower(e) != e {
			t.Fatalf("NormalizeEmail(%q) = %q: could break a mail header", raw, e)
		}
		for _, r := range e {
			if r < 0x20 || r == 0x7f || r == utf8.RuneError || r >= 0x80 && r < 0xa0 || r == '\u2028' || r == '\u2029' {
				t.Fatalf("NormalizeEmail(%q) = %q: control character %U", raw, e, r)
			}
		}
		if at := strings.LastIndexByte(e, '@'); at <= 0 || at == len(e)-1 {
			t.Fatalf("NormalizeEmail(%q) = %q: no local part or domain", raw, e)
		}
		if again, err := account.NormalizeEmail("email", e); err != nil || again != e {
			t.Fatalf("not idempotent: %q → %q → %q, %v", raw, e, again, err)
		}
		// The header a mailer would write parses back to exactly one address.
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" {
			t.Fatalf("%q does not parse back as itself: %v, %v", e, a, err)
		}
		if as, err := mail.ParseAddressList(e); err != nil || len(as) != 1 {
			t.Fatalf("%q is not exactly one address: %v, %v", e, as, err)
		}
	})
}

// FuzzTokenChecks feeds arbitrary reset and auth tokens to the public Service
// calls that check them, on a real SQLite store. "$TOKEN" in the input stands
// for a live reset token and "$AUTH" for a live auth token. A token that is
// not live is ENOTFOUND (EUNAUTHORIZED for auth tokens) whatever its shape,
// no error message quotes it, and a live one works exactly as API.md says.
func FuzzTokenChecks(f *testing.F) {
	f.Add("$TOKEN", "correct horse battery staple")
	f.Add("$TOKEN", "short")
	f.Add("$TOKEN ", "correct horse battery staple")
	f.Add("G7TwCq1Vkds0DLYnfAuP", "crux_is_awesome_123")
	f.Add("$AUTH", "")
	f.Add("\x00\xff$TOKEN", "mrbailey@projectthanos.com")
	f.Add(strings.Repeat("A", 20), strings.Repeat("é", 300))

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	hasher, err := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		f.Fatal(err)
	}
	svc := account.NewService(store, hasher, password.Policy{}, account.Config{HashWait: 10 * time.Second}, nil)
	if _, err := svc.SeedSandbox(ctx); err != nil {
		f.Fatal(err)
	}
	const bailey, roy = "mrbailey@projectthanos.com", "rbreslawski@cruxsupplier.com"
	meta := account.Meta{IP: "192.0.2.1"}
	var live, auth string
	renew := func(t testing.TB) {
		t.Helper()
		if _, err := svc.ValidateReset(ctx, live); live == "" || err != nil {
			if live, err = svc.RequestReset(ctx, bailey, meta); err != nil {
				t.Fatal(err)
			}
		}
		if auth == "" {
			sess, err := svc.Login(ctx, roy, "thanos_rocks", meta)
			if err != nil {
				t.Fatal(err)
			}
			auth = sess.AuthToken
		}
	}
	renew(f)

	f.Fuzz(func(t *testing.T, token, newPassword string) {
		token = strings.NewReplacer("$TOKEN", live, "$AUTH", auth).Replace(token)
		noQuote := func(what string, err error) {
			t.Helper()
			if len(token) >= 4 && strings.Contains(err.Error(), token) {
				t.Fatalf("%s error quotes the token: %v", what, err)
			}
		}

		email, err := svc.ValidateReset(ctx, token)
		switch {
		case token == live && (err != nil || email != bailey):
			t.Fatalf("ValidateReset(live) = %q, %v", email, err)
		case token != live && account.ErrorCode(err) != account.ENOTFOUND:
			t.Fatalf("ValidateReset(%q) = %q, %v: want ENOTFOUND", token, email, err)
		case err != nil:
			noQuote("ValidateReset", err)
		}

		u, err := svc.Authenticate(ctx, token)
		switch {
		case token == auth && (err != nil || u.Email != roy):
			t.Fatalf("Authenticate(live) = %v, %v", u, err)
		case token != auth && account.ErrorCode(err) != account.EUNAUTHORIZED:
			t.Fatalf("Authenticate(%q) = %v, %v: want EUNAUTHORIZED", token, u, err)
		case err != nil:
			noQuote("Authenticate", err)
		}

		err = svc.CompleteReset(ctx, token, newPassword, meta)
		code := account.ErrorCode(err)
		switch {
		case token != live && code != account.ENOTFOUND:
			t.Fatalf("CompleteReset(%q) = %v: want ENOTFOUND", token, err)
		case token == live && err == nil:
			if _, err := svc.ValidateReset(ctx, token); account.ErrorCode(err) != account.ENOTFOUND {
				t.Fatalf("token still live after CompleteReset: %v", err)
			}
			if _, err := svc.Login(ctx, bailey, newPassword, meta); err != nil {
				t.Fatalf("new password refused at login: %v", err)
			}
		case token == live && code == account.EINVALID:
			if _, err := svc.ValidateReset(ctx, token); err != nil {
				t.Fatalf("a refused password spent the token: %v", err)
			}
			if len(newPassword) >= 12 && strings.Contains(err.Error(), newPassword) {
				t.Fatalf("refusal quotes the password: %v", err)
			}
		case token == live:
			t.Fatalf("CompleteReset(live) = %v", err)
		}
		if err != nil {
			noQuote("CompleteReset", err)
		}
		if token != live {
			if err := svc.RevokeReset(ctx, token, meta); account.ErrorCode(err) != account.ENOTFOUND {
				t.Fatalf("RevokeReset(%q) = %v: want ENOTFOUND", token, err)
			}
		}
		renew(t)
	})
}
