package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cruxd/cruxd/internal/cruxdtest"
)

const (
	roy      = "rbreslawski@cruxsupplier.com"
	bailey   = "mrbailey@projectthanos.com"
	royOldPW = "thanos_rocks"
	newPW    = "correct horse battery staple 42"
)

// TestResetFlow walks the whole flow of the issue over real HTTP against a
// real cruxd process: reset → validate → refused weak password → complete →
// spent → login with the new password → old password and old auth tokens
// refused → Get User.
func TestResetFlow(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db string) {
		p := startSandbox(t, db)
		oldSession := login(t, p, roy, royOldPW)
		oldAuth := oldSession["auth_token"].(string)
		royUUID := oldSession["user_uuid"].(string)

		token := resetToken(t, p, "  RBreslawski@CruxSupplier.com ") // case and spaces do not matter

		r := p.Do(t, "GET", "/organizations/complete-password/?token="+token, nil)
		if m := r.Map(t); r.Status != 200 || m["email"] != roy || m["token"] != token {
			t.Fatalf("validate by query: %d %s", r.Status, r.Body)
		}
		r = p.Do(t, "GET", "/organizations/complete-password/", map[string]string{"token": token})
		if m := r.Map(t); r.Status != 200 || m["email"] != roy {
			t.Fatalf("validate by GET body: %d %s", r.Status, r.Body)
		}

		r = p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": "short", "token": token})
		if m := r.Map(t); r.Status != 400 || m["password"] == nil {
			t.Fatalf("weak password: %d %s", r.Status, r.Body)
		}
		r = p.Do(t, "GET", "/organizations/complete-password/?token="+token, nil)
		if r.Status != 200 {
			t.Fatalf("token not live after a refused password: %d %s", r.Status, r.Body)
		}

		r = p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": token})
		if r.Status != 204 || len(r.Body) != 0 {
			t.Fatalf("complete: %d %s", r.Status, r.Body)
		}
		for _, req := range []struct{ method, path string }{
			{"GET", "/organizations/complete-password/?token=" + token},
			{"POST", "/organizations/complete-password/"},
		} {
			r = p.Do(t, req.method, req.path, map[string]string{"password": newPW + "x", "token": token})
			if m := r.Map(t); r.Status != 404 || m["detail"] != "Invalid or expired token." {
				t.Fatalf("%s spent token: %d %s", req.method, r.Status, r.Body)
			}
		}

		newSession := login(t, p, roy, newPW)
		r = p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": royOldPW})
		if m := r.Map(t); r.Status != 401 || m["detail"] != "Unable to log in with provided credentials." {
			t.Fatalf("old password: %d %s", r.Status, r.Body)
		}
		r = p.Do(t, "GET", "/organizations/users/detail/"+royUUID+"/", nil, "Authorization", "Token "+oldAuth)
		if r.Status != 401 || r.Header.Get("WWW-Authenticate") != "Token" {
			t.Fatalf("old auth token: %d %s", r.Status, r.Body)
		}

		newAuth := "Token " + newSession["auth_token"].(string)
		r = p.Do(t, "GET", "/organizations/users/detail/"+royUUID+"/", nil, "Authorization", newAuth)
		m := r.Map(t)
		if r.Status != 200 || m["uuid"] != royUUID || m["status"] != "ACTIVE" || m["person"].(map[string]any)["email"] != roy {
			t.Fatalf("get user: %d %s", r.Status, r.Body)
		}

		// Mr Bailey (another organization) has no password until reset.
		bt := resetToken(t, p, bailey)
		if r := p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": bt}); r.Status != 204 {
			t.Fatalf("complete bailey: %d %s", r.Status, r.Body)
		}
		baileyUUID := login(t, p, bailey, newPW)["user_uuid"].(string)
		r = p.Do(t, "GET", "/organizations/users/detail/"+baileyUUID+"/", nil, "Authorization", newAuth)
		if r.Status != 404 {
			t.Fatalf("other organization's user: %d %s", r.Status, r.Body)
		}
		r = p.Do(t, "GET", "/organizations/users/detail/"+royUUID+"/", nil)
		if m := r.Map(t); r.Status != 401 || m["detail"] != "Invalid token." {
			t.Fatalf("no token: %d %s", r.Status, r.Body)
		}

		// Logout ends that session only.
		if r := p.Do(t, "POST", "/organizations/user-logout/", nil, "Authorization", newAuth); r.Status != 204 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if r := p.Do(t, "GET", "/organizations/users/detail/"+royUUID+"/", nil, "Authorization", newAuth); r.Status != 401 {
			t.Fatalf("auth token after logout: %d %s", r.Status, r.Body)
		}
		if r := p.Do(t, "POST", "/organizations/user-logout/", nil, "Authorization", newAuth); r.Status != 401 {
			t.Fatalf("second logout: %d %s", r.Status, r.Body)
		}
	})
}

// TestConcurrentCompleteOneWinner: 50 concurrent Create New Password calls
// with one token give exactly one 204; the rest 404.
func TestConcurrentCompleteOneWinner(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, db string) {
		p := startSandbox(t, db)
		token := resetToken(t, p, roy)
		codes := make([]int, 50)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := cruxdtest.Client.Post(p.URL+"/organizations/complete-password/", "application/json",
					strings.NewReader(`{"password": "`+newPW+`", "token": "`+token+`"}`))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, c := range codes {
			count[c]++
		}
		if count[204] != 1 || count[404] != len(codes)-1 {
			t.Fatalf("status counts %v: want one 204 and %d 404", count, len(codes)-1)
		}
	})
}

// TestNoSecretsAtRest runs a flow, stops cruxd and reads the raw database
// files: no reset token, invitation token, auth token or password is in
// them.
func TestNoSecretsAtRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "cruxd.db")
	p := cruxdtest.Start(t, []string{"--db", db}) // a process, to be killed
	auth := login(t, p, roy, royOldPW)["auth_token"].(string)
	spent := resetToken(t, p, roy)
	if r := p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": spent}); r.Status != 204 {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	live := resetToken(t, p, roy)
	auth2 := login(t, p, roy, newPW)["auth_token"].(string)
	invited := func(email string) string {
		r := p.Do(t, "POST", "/organizations/users/", map[string]string{"email": email, "first_name": "A", "last_name": "B"},
			"Authorization", "Token "+auth2)
		tok, _ := r.Map(t)["invitation_token"].(string)
		if r.Status != 201 || tok == "" {
			t.Fatalf("invite %s: %d %s", email, r.Status, r.Body)
		}
		return tok
	}
	accepted, pending := invited("ann@cruxsupplier.com"), invited("bob@cruxsupplier.com")
	if r := p.Do(t, "POST", "/organizations/accept-invite/"+accepted+"/", map[string]string{"password": newPW + " ann"}); r.Status != 204 {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	p.Kill() // no checkpoint: the WAL file keeps what it has

	secrets := []string{spent, live, auth, auth2, newPW, royOldPW, accepted, pending, newPW + " ann"}
	files, _ := filepath.Glob(db + "*")
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret in clear (%d chars)", filepath.Base(f), len(s))
			}
		}
	}
}

// TestSandboxBanner checks what a newcomer reads on the first start: the
// demo accounts and their passwords, that no mail goes out without an SMTP
// server, and where cruxd listens, last.
func TestSandboxBanner(t *testing.T) {
	t.Parallel()
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"))
	out := strings.TrimSpace(p.Stdout())
	lines := strings.Split(out, "\n")
	for _, want := range []string{"seeded the demo accounts:", roy, "password " + royOldPW,
		"no --smtp-url: Reset Password sends no mail; its answer carries the token"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "listening on http://127.0.0.1:") {
		t.Errorf("banner's last line %q, want the address", last)
	}
}
