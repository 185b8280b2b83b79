package httpapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestConventions checks every convention of API.md against the API over
// real HTTP: none depends on the store.
func TestConventions(t *testing.T) {
	t.Parallel()
	p := newSandboxAPI(t)
	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		header     []string
		wantStatus int
		wantBody   string // exact JSON, compared after normalizing
		wantHeader map[string]string
	}{
		{name: "415 other media type", method: "POST", path: "/organizations/reset-password/",
			body: `{"email": "x@y.z"}`, header: []string{"Content-Type", "text/plain"},
			wantStatus: 415, wantBody: `{"detail": "Unsupported media type \"text/plain\" in request."}`},
		{name: "415 form body", method: "POST", path: "/organizations/user-login/",
			body: `username=a&password=b`, header: []string{"Content-Type", "application/x-www-form-urlencoded"},
			wantStatus: 415, wantBody: `{"detail": "Unsupported media type \"application/x-www-form-urlencoded\" in request."}`},
		{name: "json with charset accepted", method: "POST", path: "/organizations/reset-password/",
			body: `{"email": "nobody@example.com"}`, header: []string{"Content-Type", "application/json; charset=utf-8"},
			wantStatus: 422, wantBody: `{"email": ["No active account uses this e-mail address."]}`},
		{name: "413 over 64 KiB", method: "POST", path: "/organizations/reset-password/",
			body: `{"email": "` + strings.Repeat("a", 70<<10) + `"}`, header: []string{"Content-Type", "application/json"},
			wantStatus: 413},
		{name: "400 malformed JSON", method: "POST", path: "/organizations/reset-password/",
			body: `{"email": `, header: []string{"Content-Type", "application/json"}, wantStatus: 400},
		{name: "400 missing field", method: "POST", path: "/organizations/reset-password/",
			body: map[string]string{}, wantStatus: 400, wantBody: `{"email": ["This field is required."]}`},
		{name: "400 wrongly typed field", method: "POST", path: "/organizations/reset-password/",
			body: map[string]any{"email": 42}, wantStatus: 400, wantBody: `{"email": ["Not a valid string."]}`},
		{name: "400 both fields missing", method: "POST", path: "/organizations/complete-password/",
			body: map[string]any{"unknown": "ignored"}, wantStatus: 400,
			wantBody: `{"password": ["This field is required."], "token": ["This field is required."]}`},
		{name: "400 invalid e-mail", method: "POST", path: "/organizations/reset-password/",
			body: map[string]any{"email": "not-an-address"}, wantStatus: 400, wantBody: `{"email": ["Enter a valid email address."]}`},
		{name: "400 array body", method: "POST", path: "/organizations/reset-password/",
			body: `[]`, header: []string{"Content-Type", "application/json"}, wantStatus: 400,
			wantBody: `{"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}`},
		{name: "unknown fields ignored", method: "POST", path: "/organizations/reset-password/",
			body: map[string]any{"email": "nobody@example.com", "extra": []int{1}}, wantStatus: 422},
		{name: "422 unknown e-mail in sandbox", method: "POST", path: "/organizations/reset-password/",
			body: map[string]any{"email": "nobody@example.com"}, wantStatus: 422,
			wantBody: `{"email": ["No active account uses this e-mail address."]}`},
		{name: "405 with Allow", method: "PUT", path: "/organizations/reset-password/", wantStatus: 405,
			wantBody: `{"detail": "Method \"PUT\" not allowed."}`, wantHeader: map[string]string{"Allow": "POST"}},
		{name: "405 lists GET and POST", method: "DELETE", path: "/organizations/complete-password/", wantStatus: 405,
			wantBody: `{"detail": "Method \"DELETE\" not allowed."}`, wantHeader: map[string]string{"Allow": "GET, HEAD, POST"}},
		{name: "JSON 404 unknown path", method: "GET", path: "/no/such/path/", wantStatus: 404,
			wantBody: `{"detail": "Not found."}`},
		{name: "JSON 404 below a route", method: "POST", path: "/organizations/reset-password/extra/", wantStatus: 404,
			wantBody: `{"detail": "Not found."}`},
		{name: "trailing slash optional", method: "POST", path: "/organizations/reset-password",
			body: map[string]any{"email": "nobody@example.com"}, wantStatus: 422},
		{name: "trailing slash optional on GET", method: "GET", path: "/organizations/complete-password?token=AAAAAAAAAAAAAAAAAAAA",
			wantStatus: 404, wantBody: `{"detail": "Invalid or expired token."}`},
		{name: "401 no token", method: "GET", path: "/organizations/users/detail/00000000-0000-0000-0000-000000000000/",
			wantStatus: 401, wantBody: `{"detail": "Invalid token."}`, wantHeader: map[string]string{"WWW-Authenticate": "Token"}},
		{name: "401 bad token", method: "GET", path: "/organizations/users/detail/00000000-0000-0000-0000-000000000000",
			header:     []string{"Authorization", "Token " + strings.Repeat("a", 40)},
			wantStatus: 401, wantBody: `{"detail": "Invalid token."}`},
		{name: "401 bad credentials", method: "POST", path: "/organizations/user-login/",
			body: map[string]any{"username": roy, "password": "wrong"}, wantStatus: 401,
			wantBody: `{"detail": "Unable to log in with provided credentials."}`},
		{name: "404 unknown reset token", method: "GET", path: "/organizations/complete-password/?token=nope",
			wantStatus: 404, wantBody: `{"detail": "Invalid or expired token."}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := p.Do(t, tc.method, tc.path, tc.body, tc.header...)
			if r.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.wantStatus, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("body is not JSON: %s", r.Body)
			}
			if tc.wantBody != "" && !sameJSON(t, r.Body, tc.wantBody) {
				t.Errorf("body %s, want %s", r.Body, tc.wantBody)
			}
			if tc.wantStatus == 400 && tc.wantBody == "" && !bytes.Contains(r.Body, []byte(`"detail"`)) {
				t.Errorf("body %s: want a detail", r.Body)
			}
			for k, v := range tc.wantHeader {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	// The server keeps serving after all of that.
	if r := p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": roy}); r.Status != 200 {
		t.Fatalf("reset after all of that: %d %s", r.Status, r.Body)
	}
}
