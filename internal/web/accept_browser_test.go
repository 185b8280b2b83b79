package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"github.com/cruxd/cruxd/internal/testenv"
)

// TestAcceptInviteInBrowser is the invitation path in Chromium against a
// production cruxd and a real Mailpit: Roy invites Ann through the API, the
// mail's link opens the accept-invite page on her address, a password the
// policy refuses is explained, the new one activates the account, which
// logs in, and the spent link says so. The token travels in request bodies
// only.
func TestAcceptInviteInBrowser(t *testing.T) {
	mp := testenv.StartMailpit(t)
	p := startProduction(t, mp)
	b := newTab(t)
	const ann = "ann@cruxsupplier.com"

	resp := p.Do(t, http.MethodGet, "/accept-invite/", nil)
	for k, v := range wantHeaders {
		if got := resp.Header.Get(k); resp.Status != http.StatusOK || got != v {
			t.Errorf("GET /accept-invite/: %d, %s = %q, want %q", resp.Status, k, got, v)
		}
	}
	auth := p.Do(t, http.MethodPost, "/organizations/user-login/", map[string]string{"username": userEmail, "password": oldPass}).Map(t)["auth_token"].(string)
	if r := p.Do(t, http.MethodPost, "/organizations/users/", map[string]string{"email": ann, "first_name": "Ann", "last_name": "Lee"},
		"Authorization", "Token "+auth); r.Status != http.StatusCreated {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(p.URL+"/accept-invite/#token=") + `([A-Za-z0-9]{20})\b`)
	m := re.FindStringSubmatch(mp.Message(t, mp.WaitMessage(t, ann, 1, mailWait)[0].ID).Text)
	if m == nil {
		t.Fatal("the invitation mail has no accept-invite link")
	}
	link, token := m[0], m[1]

	urls := b.requestURLs()
	b.open(link, "#choose")
	if v := eval[string](b, `document.getElementById('username').value`); v != ann {
		t.Errorf("accept page shows account %q", v)
	}
	if loc := eval[string](b, `location.href`); strings.Contains(loc, token) {
		t.Errorf("token left in the address bar: %s", loc)
	}
	if f := b.focused(); f != "password" {
		t.Errorf("focus on #%s, want #password", f)
	}
	b.noHorizontalScroll("accept form")
	b.screenshot("invite-1-accept-form")

	common := "1234567890qwerty"
	b.typeInto("#password", common)
	b.typeInto("#confirm", common+kb.Enter)
	b.waitVisible("#password-error")
	if got := b.text("#password-error"); got != "This password is too common." {
		t.Errorf("policy refusal shown as %q", got)
	}
	b.waitText("#announce", "This password is too common.")
	b.clear("#password", "#confirm")
	b.typeInto("#password", newPass)
	b.typeInto("#confirm", newPass+kb.Enter)
	b.waitVisible("#done")
	if got := b.text("#done h1"); got != "Your account is ready" {
		t.Errorf("done: %q", got)
	}
	if href := b.attr("#return-link", "href"); href != "https://app.example.com/sign-in" {
		t.Errorf("return link %q", href)
	}
	b.screenshot("invite-2-ready")
	for _, u := range urls() {
		if strings.Contains(u, token) {
			t.Errorf("the page sent the token in a URL: %s", u)
		}
	}
	if st := p.Do(t, http.MethodPost, "/organizations/user-login/", map[string]string{"username": ann, "password": newPass}).Status; st != http.StatusOK {
		t.Errorf("login of the invited user: %d", st)
	}

	b.do("leave", navigateBlank())
	b.open(link, "#invalid")
	if got := b.text("#invalid h1"); got != "This invitation is no longer valid" {
		t.Errorf("spent link: %q", got)
	}
	b.screenshot("invite-3-spent")
	b.do("leave", navigateBlank())
	b.open(p.URL+"/accept-invite/", "#invalid")
	if got := b.text("#invalid h1"); got != "Open the link from your invitation e-mail" {
		t.Errorf("no token: %q", got)
	}
}
