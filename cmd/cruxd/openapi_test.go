package main

import (
	"bytes"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/httpapi"
)

// TestOpenAPIFlow runs the main flow and every documented error shape
// against a real cruxd, and validates each response explicitly against the
// OpenAPI document: each must match a documented operation and status.
func TestOpenAPIFlow(t *testing.T) {
	t.Parallel()
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"), "--limits", "--limit-login-ip", "1")
	check := func(status int, method, path string, body any, header ...string) *cruxdtest.Response {
		t.Helper()
		r := p.Do(t, method, path, body, header...)
		if r.Status != status {
			t.Fatalf("%s %s: %d, want %d\n%s", method, path, r.Status, status, r.Body)
		}
		req, _ := http.NewRequest(method, p.URL+path, nil)
		if err := cruxdtest.ValidateResponse(req, r.Status, r.Header, r.Body); err != nil {
			t.Errorf("%s %s: %d: %v", method, path, r.Status, err)
		}
		return r
	}
	json := "application/json"

	check(400, "POST", "/organizations/reset-password/", map[string]any{})
	check(400, "POST", "/organizations/reset-password/", `{"email": `, "Content-Type", json)
	check(415, "POST", "/organizations/reset-password/", `email=x`, "Content-Type", "text/plain")
	check(413, "POST", "/organizations/reset-password/", `{"email": "`+strings.Repeat("a", 70<<10)+`"}`, "Content-Type", json)
	check(405, "PUT", "/organizations/reset-password/", nil)
	check(422, "POST", "/organizations/reset-password/", map[string]string{"email": "nobody@nowhere.example"})
	token := check(200, "POST", "/organizations/reset-password/", map[string]string{"email": roy}).Map(t)["reset_token"].(string)
	check(200, "GET", "/organizations/complete-password/?token="+token, nil)
	check(200, "GET", "/organizations/complete-password", map[string]string{"token": token})
	check(404, "GET", "/organizations/complete-password/?token=nope", nil)
	check(400, "POST", "/organizations/complete-password/", map[string]string{"password": "short", "token": token})
	check(204, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": token})
	check(404, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": token})
	check(404, "POST", "/organizations/revoke-password-reset/", map[string]string{"token": token})
	check(404, "POST", "/organizations/revoke-password-reset/", map[string]string{"token": resetToken(t, p, roy)}) // a reset token cannot cancel
	s := check(200, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": newPW}).Map(t)
	auth, uuid := "Token "+s["auth_token"].(string), s["user_uuid"].(string)
	check(200, "GET", "/organizations/users/detail/"+uuid+"/", nil, "Authorization", auth)
	check(404, "GET", "/organizations/users/detail/00000000-0000-4000-8000-000000000000/", nil, "Authorization", auth)
	check(401, "GET", "/organizations/users/detail/"+uuid+"/", nil)
	check(405, "DELETE", "/organizations/users/detail/"+uuid+"/", nil, "Authorization", auth)
	check(401, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": royOldPW})
	r := check(429, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": newPW})
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	check(200, "GET", "/healthz", nil)
	check(200, "GET", "/readyz", nil)
	check(200, "GET", "/forgot-password/", nil)
	check(200, "GET", "/reset-password/", nil)
	doc := check(200, "GET", "/openapi.yaml", nil)
	if !bytes.Equal(doc.Body, httpapi.OpenAPI()) || doc.Header.Get("Content-Type") != "application/yaml" {
		t.Errorf("GET /openapi.yaml: %s, %d bytes: not the embedded document", doc.Header.Get("Content-Type"), len(doc.Body))
	}

	// The validator bites: a body or status the document does not allow is
	// refused, and an unknown path is reported as undocumented.
	req, _ := http.NewRequest("POST", p.URL+"/organizations/reset-password/", nil)
	h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"x"}}
	if err := cruxdtest.ValidateResponse(req, 200, h, []byte(`{"reset_token": 42}`)); err == nil {
		t.Error("a wrongly typed reset_token validated")
	}
	if err := cruxdtest.ValidateResponse(req, 418, h, []byte(`{"detail": "x"}`)); err == nil {
		t.Error("an undocumented status validated")
	}
	req401, _ := http.NewRequest("POST", p.URL+"/organizations/user-login/", nil)
	if err := cruxdtest.ValidateResponse(req401, 401, h, []byte(`{"detail": "x"}`)); err == nil {
		t.Error("a 401 without WWW-Authenticate validated")
	}
	reqUnknown, _ := http.NewRequest("GET", p.URL+"/nowhere", nil)
	if err := cruxdtest.ValidateResponse(reqUnknown, 404, h, []byte(`{"detail": "Not found."}`)); !errors.Is(err, cruxdtest.ErrUndocumented) {
		t.Errorf("unknown path: %v, want ErrUndocumented", err)
	}
}

// TestGracefulShutdown sends SIGTERM while 20 logins are in flight inside
// cruxd (each has sent half its body, so none can finish before the signal):
// once they send the rest, every one gets its 200 (an argon2id hash each),
// new connections are refused, and cruxd exits 0.
func TestGracefulShutdown(t *testing.T) {
	const n = 20
	// A process: the test is about its SIGTERM handling.
	p := cruxdtest.Start(t, []string{"--db", filepath.Join(t.TempDir(), "cruxd.db"),
		"--hash-concurrency", "1", "--hash-wait", "60s", "--shutdown-timeout", "60s", "--metrics-addr", "127.0.0.1:0"})
	client := heldClient()
	finish := heldLogins(t, p, n, client)
	p.Signal(syscall.SIGTERM)
	for i, r := range finish() {
		if r.Err != nil || r.Status != 200 {
			t.Errorf("login %d during shutdown: %d %v", i, r.Status, r.Err)
		}
	}
	if code := p.Wait(t, 60*time.Second); code != 0 {
		t.Errorf("cruxd exited %d after SIGTERM\n%s", code, p.Stderr())
	}
	if _, err := client.Get(p.URL + "/healthz"); err == nil {
		t.Error("a new request was answered after shutdown")
	}
	if log := p.Stderr(); !strings.Contains(log, "shutting down") || !strings.Contains(log, "stopped: no request in flight") {
		t.Errorf("the log does not show a graceful stop:\n%s", log)
	}
}
