package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestNoStore: every API answer, success or error, carries
// Cache-Control: no-store, since Login's and Validate's bodies are secrets
// and any other answer may come to carry one.
func TestNoStore(t *testing.T) {
	e := newFuzzEnv(t)
	for _, c := range []struct{ method, path, auth, body string }{
		{"POST", "/organizations/user-login/", "", `{"username":"` + fuzzRoy + `","password":"` + fuzzRoyPW + `"}`},
		{"POST", "/organizations/user-login/", "", `{"username":"` + fuzzRoy + `","password":"wrong"}`},
		{"GET", "/organizations/complete-password/?token=$TOKEN", "", ""},
		{"GET", "/organizations/complete-password/?token=AAAAAAAAAAAAAAAAAAAA", "", ""},
		{"POST", "/organizations/reset-password/", "", `{"email":"` + fuzzBailey + `"}`},
		{"POST", "/organizations/revoke-password-reset/", "", `{"token":"AAAAAAAAAAAAAAAAAAAA"}`},
		{"GET", "/organizations/users/detail/$ROY/", "Token $AUTH", ""},
		{"GET", "/organizations/users/detail/$ROY/", "", ""},
		{"POST", "/organizations/user-logout/", "Token $AUTH", ""},
		{"DELETE", "/organizations/user-login/", "", ""},
		{"GET", "/healthz", "", ""},
		{"GET", "/openapi.yaml", "", ""},
		{"GET", "/nowhere", "", ""},
		{"GET", "//organizations/../x", "", ""},
	} {
		e.refresh(t)
		req := httptest.NewRequest(c.method, e.expand(c.path), strings.NewReader(e.expand(c.body)))
		req.Header.Set("Content-Type", "application/json")
		if c.auth != "" {
			req.Header.Set("Authorization", e.expand(c.auth))
		}
		rec := httptest.NewRecorder()
		e.sandboxH.ServeHTTP(rec, req)
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s %s: %d with Cache-Control %q; want no-store", c.method, c.path, rec.Code, got)
		}
	}
}
