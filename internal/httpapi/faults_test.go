package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
	"github.com/cruxd/cruxd/internal/testenv"
)

// post sends a JSON body and returns the response, its body read.
func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestFullDiskAnswers503: on a full filesystem Reset Password answers 503
// with Retry-After from the first failure, /readyz answers 503 while
// writes fail, reads keep working, and both come back by themselves once
// there is room.
func TestFullDiskAnswers503(t *testing.T) {
	dir := testenv.SmallFS(t, 4<<20)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "cruxd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // before the unmount
	const email = "alice@acme.example"
	err = store.Update(ctx, func(tx account.Tx) error {
		o := &account.Organization{UUID: "o1", Name: "Acme", Type: account.Retailer}
		if err := tx.CreateOrganization(ctx, o); err != nil {
			return err
		}
		return tx.CreateUser(ctx, &account.User{UUID: "u1", PersonUUID: "p1", OrgID: o.ID, Email: email,
			Status: account.StatusActive, Permissions: []string{account.PermViewOrgUsers}})
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveOn(t, store)
	reset := srv.URL + "/organizations/reset-password/"
	resp, body := post(t, reset, `{"email":"`+email+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("reset before the disk filled: %d %s", resp.StatusCode, body)
	}
	token := body[strings.Index(body, `"reset_token":"`)+len(`"reset_token":"`):]
	token = token[:strings.IndexByte(token, '"')]

	filler := testenv.Fill(t, dir)

	failed := false
	for range 2000 {
		resp, body := post(t, reset, `{"email":"`+email+`"}`)
		if resp.StatusCode == 200 {
			continue
		}
		failed = true
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("first failed reset on a full disk: %d (Retry-After %q) %s, want 503 with Retry-After",
				resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		break
	}
	if !failed {
		t.Fatal("2000 resets succeeded on a full disk")
	}
	wantProbe(t, srv, "/readyz", 503, "unavailable")
	resp, err = http.Get(srv.URL + "/organizations/complete-password/?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("Validate Password Reset (a read) on a full disk: %d, want 200", resp.StatusCode)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	wantProbe(t, srv, "/readyz", 200, "ok")
	if resp, body := post(t, reset, `{"email":"`+email+`"}`); resp.StatusCode != 200 {
		t.Errorf("reset once there is room again: %d %s", resp.StatusCode, body)
	}
}
