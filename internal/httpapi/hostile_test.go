package httpapi_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
)

// TestHostileBodies: each hostile request gets a clear 4xx (and JSON) and a
// normal request succeeds right after it, in sandbox and production.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	type tc struct {
		name, method, path, ctype, body string
		want                            int
	}
	mb := strings.Repeat("a", 1<<20)
	cases := []tc{
		{"nested 100000 deep", "POST", "/organizations/reset-password/", "", `{"email": ` + deep(100000) + `}`, 413},
		{"nested 100000 deep object", "POST", "/organizations/reset-password/", "", strings.Repeat(`{"a":`, 100000) + strings.Repeat("}", 100000), 413},
		{"nested 30000 deep (within 64 KiB)", "POST", "/organizations/reset-password/", "", `{"email": ` + deep(30000) + `}`, 400},
		{"nested 30000 deep token", "POST", "/organizations/complete-password/", "", `{"token": ` + deep(30000) + `, "password": "x"}`, 400},
		{"nested deep validate body", "GET", "/organizations/complete-password/", "", `{"token": ` + deep(30000) + `}`, 400},
		{"invalid UTF-8", "POST", "/organizations/reset-password/", "", "{\"email\": \"mr\xffbailey@projectthanos.com\"}", 400},
		{"invalid UTF-8 in a key", "POST", "/organizations/user-login/", "", "{\"user\xc0name\": \"a\", \"password\": \"b\"}", 400},
		{"lone surrogate escape", "POST", "/organizations/reset-password/", "", `{"email": "\ud800@b.c"}`, 400},
		{"duplicate keys", "POST", "/organizations/reset-password/", "", `{"email": "mrbailey@projectthanos.com", "email": "rbreslawski@cruxsupplier.com"}`, 400},
		{"duplicate token", "POST", "/organizations/complete-password/", "", `{"token": "AAAAAAAAAAAAAAAAAAAA", "token": "BBBBBBBBBBBBBBBBBBBB", "password": "x"}`, 400},
		{"number for e-mail", "POST", "/organizations/reset-password/", "", `{"email": 12}`, 400},
		{"number for password", "POST", "/organizations/user-login/", "", `{"username": "rbreslawski@cruxsupplier.com", "password": 123456789012345}`, 400},
		{"number for token", "GET", "/organizations/complete-password/", "", `{"token": 12345678901234567890}`, 400},
		{"object for e-mail", "POST", "/organizations/reset-password/", "", `{"email": {"$ne": null}}`, 400},
		{"bool for token", "POST", "/organizations/complete-password/", "", `{"token": true, "password": "x"}`, 400},
		{"null body", "POST", "/organizations/reset-password/", "", `null`, 400},
		{"null e-mail", "POST", "/organizations/reset-password/", "", `{"email": null}`, 400},
		{"array body", "POST", "/organizations/reset-password/", "", `[{"email": "rbreslawski@cruxsupplier.com"}]`, 400},
		{"array body login", "POST", "/organizations/user-login/", "", `["rbreslawski@cruxsupplier.com", "thanos_rocks"]`, 400},
		{"string body", "POST", "/organizations/complete-password/", "", `"x"`, 400},
		{"trailing garbage", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com"} x`, 400},
		{"1 MB e-mail", "POST", "/organizations/reset-password/", "", `{"email": "` + mb + `@b.c"}`, 413},
		{"1 MB password", "POST", "/organizations/user-login/", "", `{"username": "rbreslawski@cruxsupplier.com", "password": "` + mb + `"}`, 413},
		{"60 KB token query", "GET", "/organizations/complete-password/?token=" + strings.Repeat("A", 60000), "", "", 404},
		{"long e-mail under 64 KiB", "POST", "/organizations/reset-password/", "", `{"email": "` + strings.Repeat("a", 60000) + `@b.c"}`, 400},
		{"CRLF Bcc injection", "POST", "/organizations/reset-password/", "", `{"email": "a@b.c\r\nBcc: x@y.z"}`, 400},
		{"LF Bcc injection", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com\nBcc: x@y.z"}`, 400},
		{"NUL in e-mail", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com\u0000"}`, 400},
		{"tab in e-mail", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com\tBcc: x@y.z"}`, 400},
		{"line separator in e-mail", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com\u2028Bcc: x@y.z"}`, 400},
		{"display name", "POST", "/organizations/reset-password/", "", `{"email": "Bcc: x@y.z <rbreslawski@cruxsupplier.com>"}`, 400},
		{"address list", "POST", "/organizations/reset-password/", "", `{"email": "rbreslawski@cruxsupplier.com, x@y.z"}`, 400},
		{"encoded word", "POST", "/organizations/reset-password/", "", `{"email": "=?utf-8?q?=0D=0ABcc:_x@y.z?=@cruxsupplier.com"}`, 400},
		{"control char login", "POST", "/organizations/user-login/", "", `{"username": "rbreslawski@cruxsupplier.com\r\nX: y", "password": "thanos_rocks"}`, 401},
		{"wrong media type", "POST", "/organizations/reset-password/", "text/plain", `{"email": "rbreslawski@cruxsupplier.com"}`, 415},
		{"form body", "POST", "/organizations/user-login/", "application/x-www-form-urlencoded", `username=a&password=b`, 415},
	}
	run := func(t *testing.T, p *testAPI) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ct := c.ctype
				if ct == "" {
					ct = "application/json"
				}
				var body any
				if c.body != "" {
					body = c.body
				}
				r := p.Do(t, c.method, c.path, body, "Content-Type", ct)
				if r.Status != c.want {
					t.Errorf("%d %s; want %d", r.Status, truncateBody(r.Body), c.want)
				}
				if r.Header.Get("Content-Type") != "application/json" || !bytes.HasPrefix(r.Body, []byte("{")) {
					t.Errorf("answer is not a JSON object: %s %s", r.Header.Get("Content-Type"), truncateBody(r.Body))
				}
				p.stillServing(t)
			})
		}
	}
	t.Run("sandbox", func(t *testing.T) {
		t.Parallel()
		run(t, newSandboxAPI(t))
	})
	t.Run("production", func(t *testing.T) {
		t.Parallel()
		// stillServing logs in after every case, more often than one client
		// may a minute.
		limits := account.ProductionLimits
		limits.LoginCallsPerIPMinute = 0
		run(t, newProductionAPI(t, limits))
	})
}

func truncateBody(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
