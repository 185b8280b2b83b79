package web_test

import (
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

func TestMain(m *testing.M) { cruxdtest.Main(m) }

const (
	userEmail = "rbreslawski@cruxsupplier.com"
	oldPass   = "thanos_rocks"
	newPass   = "velvet tangerine harbour lantern"
	mailWait  = 60 * time.Second
)

// newProductionDB returns a database holding one active user with oldPass;
// production seeds nothing.
func newProductionDB(t *testing.T) string {
	t.Helper()
	return cruxdtest.NewDB(t, cruxdtest.Account{Email: userEmail, FirstName: "Roy", Password: oldPass})
}

// startProduction runs cruxd in production mode mailing through mp. Its
// public URL must be its own address, so the port is chosen first.
func startProduction(t *testing.T, mp *testenv.Mailpit) *cruxdtest.Process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return cruxdtest.Start(t, []string{
		"--mode", "production", "--addr", addr, "--public-url", "http://" + addr,
		"--smtp-url", mp.SMTPURL(), "--db", newProductionDB(t),
		"--product-name", "Crux Connect", "--return-url", "https://app.example.com/sign-in",
	})
}

// nextResetLink waits for a mail to addr carrying a reset link not in seen,
// and returns the link.
func nextResetLink(t *testing.T, mp *testenv.Mailpit, p *cruxdtest.Process, addr string, seen map[string]bool) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(p.URL+"/reset-password/#token=") + `[A-Za-z0-9]{20}\b`)
	deadline := time.Now().Add(mailWait)
	for n := 1; ; {
		msgs := mp.WaitMessage(t, addr, n, time.Until(deadline))
		for _, m := range msgs {
			if link := re.FindString(mp.Message(t, m.ID).Text); link != "" && !seen[link] {
				seen[link] = true
				return link
			}
		}
		n = len(msgs) + 1
	}
}

func login(t *testing.T, p *cruxdtest.Process, pass string) int {
	t.Helper()
	return p.Do(t, http.MethodPost, "/organizations/user-login/", map[string]string{"username": userEmail, "password": pass}).Status
}

// TestResetInBrowser is the whole reset path in Chromium against a
// production cruxd and a real Mailpit: the forgot-password form, the mail,
// its link, a password the policy refuses, the new password, login with it,
// and the spent link opened again. Each state is saved as a screenshot.
func TestResetInBrowser(t *testing.T) {
	mp := testenv.StartMailpit(t)
	p := startProduction(t, mp)
	b := newTab(t)
	seen := map[string]bool{}

	// The real server sends the pages with their headers.
	for _, path := range []string{"/forgot-password/", "/reset-password", "/assets/app.js"} {
		resp := p.Do(t, http.MethodGet, path, nil)
		if resp.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.Status)
		}
		for k, v := range wantHeaders {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
	}

	// Ask for a link.
	b.open(p.URL+"/forgot-password/", "#request")
	if got := b.text(".brand-name"); got != "Crux Connect" {
		t.Errorf("product name %q", got)
	}
	b.screenshot("1-forgot-form")
	b.typeInto("#email", userEmail+kb.Enter)
	b.waitVisible("#sent")
	if got := b.text("#sent"); !strings.Contains(got, "Check your inbox") || !strings.Contains(got, userEmail) {
		t.Errorf("after asking: %q", got)
	}
	b.screenshot("2-check-inbox")

	// Open the mail's link: the page shows the account, the token stays live.
	link := nextResetLink(t, mp, p, userEmail, seen)
	token := strings.TrimPrefix(link, p.URL+"/reset-password/#token=")
	b.do("leave", navigateBlank())
	urls := b.requestURLs()
	b.open(link, "#choose")
	if v := eval[string](b, `document.getElementById('username').value`); v != userEmail {
		t.Errorf("reset page shows account %q", v)
	}
	if loc := eval[string](b, `location.href`); strings.Contains(loc, token) {
		t.Errorf("token left in the address bar: %s", loc)
	}
	b.screenshot("3-reset-form")

	// A common password: the policy's reason, announced; the token lives on.
	common := "1234567890qwerty"
	b.typeInto("#password", common)
	b.typeInto("#confirm", common+kb.Enter)
	b.waitVisible("#password-error")
	if got := b.text("#password-error"); got != "This password is too common." {
		t.Errorf("policy refusal shown as %q", got)
	}
	b.waitText("#announce", "This password is too common.")
	if b.attr("#password", "aria-invalid") != "true" {
		t.Error("refused password not marked invalid")
	}
	b.screenshot("4-policy-error")
	if st := p.Do(t, http.MethodGet, "/organizations/complete-password/?token="+token, nil).Status; st != http.StatusOK {
		t.Fatalf("token not live after a refused password: %d", st)
	}

	// The new password, twice: success, with the way back to the app.
	b.clear("#password", "#confirm")
	b.typeInto("#password", newPass)
	b.typeInto("#confirm", newPass+kb.Enter)
	b.waitVisible("#done")
	if href := b.attr("#return-link", "href"); href != "https://app.example.com/sign-in" {
		t.Errorf("return link %q", href)
	}
	b.screenshot("5-success")
	// No request of the page put the token in a URL, where proxies and
	// access logs would keep it: it travelled only in request bodies.
	sent := urls()
	if len(sent) < 3 {
		t.Errorf("recorded %d requests, want the page, its assets and its API calls: %q", len(sent), sent)
	}
	for _, u := range sent {
		if strings.Contains(u, token) {
			t.Errorf("the page sent the token in a URL: %s", u)
		}
	}
	if st := login(t, p, newPass); st != http.StatusOK {
		t.Errorf("login with the new password: %d", st)
	}
	if st := login(t, p, oldPass); st != http.StatusUnauthorized {
		t.Errorf("login with the old password: %d, want 401", st)
	}

	// The spent link, opened again: plainly expired, the form right there,
	// and it works.
	b.do("leave", navigateBlank())
	b.open(link, "#invalid")
	if got := b.text("#invalid h1"); got != "This link has expired" {
		t.Errorf("spent link: %q", got)
	}
	b.waitVisible("#invalid #email")
	b.screenshot("6-expired-link")
	b.typeInto("#email", userEmail+kb.Enter)
	b.waitVisible("#sent")
	if again := nextResetLink(t, mp, p, userEmail, seen); again == link {
		t.Error("the form on the expired page sent the old link")
	}

	// Dark mode, for the eye.
	b.darkMode(true)
	b.do("leave", navigateBlank())
	b.open(p.URL+"/forgot-password/", "#request")
	b.screenshot("7-forgot-form-dark")
	b.darkMode(false)
}
