package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cruxd/cruxd/internal/web"
)

// fakeAPI answers the API calls the pages make with the answers of API.md,
// chosen by the e-mail address or token, so the browser test can reach
// every state, including the failures a real server rarely gives.
type fakeAPI struct {
	mu        sync.Mutex
	validated int
	completed []string // passwords of the Create New Password calls
	used      bool
}

const (
	liveToken     = "Live0000000000000000"
	revokeToken   = "Revoke00000000000000"
	sandboxToken  = "SandboxToken00000000"
	liveEmail     = "ann.lee@example.com"
	commonPass    = "1234567890qwerty"
	goodPass      = "correct horse battery staple"
	returnURL     = "https://app.example.com/sign-in"
	policyRefusal = "This password is too common."
	expiredInvite = "Expired0000000000000"
	busyInvite    = "Busy0000000000000000"
)

func (f *fakeAPI) register(mux *http.ServeMux) {
	reply := func(w http.ResponseWriter, status int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}
	decode := func(r *http.Request) map[string]string {
		var m map[string]string
		json.NewDecoder(r.Body).Decode(&m)
		return m
	}
	mux.HandleFunc("POST /organizations/reset-password/", func(w http.ResponseWriter, r *http.Request) {
		switch email := decode(r)["email"]; email {
		case "known@example.com":
			reply(w, 200, map[string]string{"reset_token": sandboxToken})
		case "bad@example":
			reply(w, 400, map[string][]string{"email": {"Enter a valid email address."}})
		case "slow@example.com":
			w.Header().Set("Retry-After", "42")
			reply(w, 429, map[string]string{"detail": "Request was throttled. Expected available in 42 seconds."})
		case "busy@example.com":
			w.Header().Set("Retry-After", "5")
			reply(w, 503, map[string]string{"detail": "The server is busy. Try again shortly."})
		case "down@example.com":
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			reply(w, 422, map[string][]string{"email": {"No active account uses this e-mail address."}})
		}
	})
	mux.HandleFunc("POST /organizations/validate-password-reset/", func(w http.ResponseWriter, r *http.Request) {
		token := decode(r)["token"]
		f.mu.Lock()
		defer f.mu.Unlock()
		f.validated++
		if token == liveToken && !f.used {
			reply(w, 200, map[string]string{"email": liveEmail, "token": liveToken})
			return
		}
		reply(w, 404, map[string]string{"detail": "Invalid or expired token."})
	})
	mux.HandleFunc("POST /organizations/complete-password/", func(w http.ResponseWriter, r *http.Request) {
		b := decode(r)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.completed = append(f.completed, b["password"])
		switch {
		case b["token"] != liveToken || f.used:
			reply(w, 404, map[string]string{"detail": "Invalid or expired token."})
		case b["password"] == commonPass:
			reply(w, 400, map[string][]string{"password": {policyRefusal}})
		default:
			f.used = true
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("POST /organizations/validate-invite/", func(w http.ResponseWriter, r *http.Request) {
		switch decode(r)["token"] {
		case expiredInvite:
			reply(w, 201, map[string]string{"email": liveEmail, "token": sandboxToken,
				"detail": "This invitation has expired. A new invitation was issued to the invited address."})
		case busyInvite:
			w.Header().Set("Retry-After", "5")
			reply(w, 503, map[string]string{"detail": "The server is busy. Try again shortly."})
		default:
			reply(w, 404, map[string]string{"detail": "Invalid or expired token."})
		}
	})
	mux.HandleFunc("POST /organizations/revoke-password-reset/", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if decode(r)["token"] == revokeToken && !f.used {
			f.used = true
			w.WriteHeader(http.StatusNoContent)
			return
		}
		reply(w, 404, map[string]string{"detail": "Invalid or expired token."})
	})
}

func (f *fakeAPI) calls() (validated int, completed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.validated, append([]string(nil), f.completed...)
}

// TestPagesInBrowser drives both pages in Chromium against a fake API:
// every error the request form shows (400, 429 with the wait, 503, network
// failure), the neutral answer for known and unknown addresses (never the
// sandbox token), the reset form's client-side checks, the policy's reason,
// keyboard use, focus rings, 320 px, dark mode, and the "this wasn't me"
// flow.
func TestPagesInBrowser(t *testing.T) {
	api := &fakeAPI{}
	mux := http.NewServeMux()
	api.register(mux)
	web.New(web.Options{ProductName: "Acme", ReturnURL: returnURL}).Register(mux.Handle)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b := newTab(t)

	// The request form: errors for each answer that is not the neutral one.
	b.open(srv.URL+"/forgot-password/", "#request")
	if h := b.text("#request h1"); h != "Reset your password" {
		t.Errorf("forgot page heading %q", h)
	}
	b.noHorizontalScroll("forgot page")
	b.typeInto("#email", kb.Enter)
	b.waitVisible("#email-error")
	if got := b.text("#email-error"); !strings.Contains(got, "Enter the e-mail address") {
		t.Errorf("empty address: %q", got)
	}
	if b.attr("#email", "aria-invalid") != "true" || !strings.Contains(b.attr("#email", "aria-describedby"), "email-error") {
		t.Error("empty address: field not marked invalid and described by its error")
	}
	b.waitText("#announce", "Enter the e-mail address")
	if f := b.focused(); f != "email" {
		t.Errorf("focus on #%s after an error, want #email", f)
	}

	for _, c := range []struct{ email, sel, want string }{
		{"bad@example", "#email-error", "Enter a valid email address."},
		{"slow@example.com", "#request [data-alert]", "Too many attempts. Try again in 42 seconds."},
		{"busy@example.com", "#request [data-alert]", "The service is busy right now. Try again in 5 seconds."},
		{"down@example.com", "#request [data-alert]", "We could not reach the server"},
	} {
		b.clear("#email")
		b.typeInto("#email", c.email+kb.Enter)
		b.waitVisible(c.sel)
		if got := b.text(c.sel); !strings.Contains(got, c.want) {
			t.Errorf("%s: %s says %q, want %q", c.email, c.sel, got, c.want)
		}
		b.waitText("#announce", c.want)
		if c.email == "bad@example" {
			b.screenshot("fake-forgot-invalid-address")
		}
		if c.email == "slow@example.com" {
			b.screenshot("fake-forgot-throttled")
		}
	}

	// Unknown (422 in sandbox) and known (the sandbox token) addresses get
	// the same neutral message; the token never reaches the page.
	var sent []string
	for _, email := range []string{"nobody@example.com", "known@example.com"} {
		b.clear("#email")
		b.typeInto("#email", email+kb.Enter)
		b.waitVisible("#sent")
		sent = append(sent, strings.ReplaceAll(b.text("#sent"), email, "ADDRESS"))
		if f := b.focused(); f != "sent-title" {
			t.Errorf("focus on #%s after sending, want the heading", f)
		}
		b.waitText("#announce", "Check your inbox")
		if html := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, sandboxToken) {
			t.Fatal("the page shows the sandbox reset token")
		}
		b.tabTo("again-button")
		b.press(kb.Enter)
		b.waitVisible("#request")
	}
	if sent[0] != sent[1] {
		t.Errorf("known and unknown addresses answered differently:\n%s\n%s", sent[0], sent[1])
	}

	// No fragment, and an unknown token: plainly said, with the form there.
	b.open(srv.URL+"/reset-password/", "#invalid")
	if got := b.text("#invalid h1"); got != "Open the link from your e-mail" {
		t.Errorf("no token: %q", got)
	}
	b.open(srv.URL+"/reset-password/#token=Dead0000000000000000", "#invalid")
	if got := b.text("#invalid h1"); got != "This link has expired" {
		t.Errorf("dead token: %q", got)
	}
	b.waitVisible("#invalid #email")

	// A live token: checked without being spent, cleared from the address.
	validatedBefore, _ := api.calls()
	b.open(srv.URL+"/reset-password/#token="+liveToken, "#choose")
	if loc := eval[string](b, `location.href`); strings.Contains(loc, liveToken) || strings.Contains(loc, "#") {
		t.Errorf("the token stays in the address bar: %s", loc)
	}
	if v := eval[string](b, `document.getElementById('username').value`); v != liveEmail {
		t.Errorf("account shown as %q", v)
	}
	if f := b.focused(); f != "password" {
		t.Errorf("focus on #%s, want #password", f)
	}
	b.noHorizontalScroll("reset form")

	// The strength meter: judged in the page, announced once per level.
	if got := b.text("#password-strength"); got != "Password strength: Too short" {
		t.Errorf("empty password: meter says %q", got)
	}
	eval[bool](b, `(() => {
		window.strengthChanges = 0;
		new MutationObserver(() => window.strengthChanges++).observe(
			document.getElementById('password-strength'), {childList: true, subtree: true, characterData: true});
		return true })()`)
	b.typeInto("#password", "short")
	b.waitText("#password-strength", "Too short")
	if n := eval[int](b, `window.strengthChanges`); n != 0 {
		t.Errorf("the strength label changed %d times within one level", n)
	}
	if !strings.Contains(b.attr("[data-strength]", "class"), "strength-1") {
		t.Errorf("short password: bar classes %q", b.attr("[data-strength]", "class"))
	}
	b.typeInto("#password", "er than that") // 17 characters: min..min+4
	b.waitText("#password-strength", "Fair")
	b.clear("#password")
	b.typeInto("#password", goodPass)
	b.waitText("#password-strength", "Strong")
	if !strings.Contains(b.attr("[data-strength]", "class"), "strength-4") {
		t.Errorf("long password: bar classes %q", b.attr("[data-strength]", "class"))
	}
	b.screenshot("fake-reset-strength")
	b.darkMode(true)
	b.screenshot("fake-reset-strength-dark")
	b.darkMode(false)
	if _, completed := api.calls(); len(completed) != 0 {
		t.Fatalf("the meter posted: %q", completed)
	}
	b.clear("#password")

	// Client-side checks send nothing.
	b.typeInto("#password", "short")
	b.typeInto("#confirm", "short"+kb.Enter)
	b.waitVisible("#password-error")
	if got := b.text("#password-error"); !strings.Contains(got, "at least 15 characters") {
		t.Errorf("short password: %q", got)
	}
	b.clear("#password", "#confirm")
	b.typeInto("#password", goodPass)
	b.typeInto("#confirm", goodPass+"!"+kb.Enter)
	b.waitVisible("#confirm-error")
	if got := b.text("#confirm-error"); !strings.Contains(got, "do not match") {
		t.Errorf("mismatch: %q", got)
	}
	if b.attr("#confirm", "aria-invalid") != "true" {
		t.Error("mismatch: confirm field not marked invalid")
	}
	b.screenshot("fake-reset-mismatch")
	if _, completed := api.calls(); len(completed) != 0 {
		t.Fatalf("client-side errors still posted: %q", completed)
	}

	// The policy's reason, announced; the token stays usable.
	b.clear("#password", "#confirm")
	b.typeInto("#password", commonPass)
	b.typeInto("#confirm", commonPass+kb.Enter)
	b.waitVisible("#password-error")
	if got := b.text("#password-error"); got != policyRefusal {
		t.Errorf("policy refusal shown as %q", got)
	}
	b.waitText("#announce", policyRefusal)

	// Keyboard: Tab through the form, Space shows the passwords, the focus
	// ring is visible, Enter submits.
	b.clear("#password", "#confirm")
	b.typeInto("#password", goodPass)
	b.press(kb.Tab)
	if f := b.focused(); f != "confirm" {
		t.Fatalf("Tab from the password went to #%s", f)
	}
	b.press(goodPass)
	b.tabTo("show-passwords")
	b.press(" ")
	if typ := b.attr("#password", "type"); typ != "text" {
		t.Errorf("show passwords: type %q", typ)
	}
	if o := eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); o == "none" {
		t.Error("no visible focus ring on the checkbox")
	}
	b.tabTo("choose-submit")
	if o := eval[string](b, `getComputedStyle(document.activeElement).outlineStyle`); o == "none" {
		t.Error("no visible focus ring on the submit button")
	}
	b.press(kb.Enter)
	b.waitVisible("#done")
	if href := b.attr("#return-link", "href"); href != returnURL {
		t.Errorf("return link %q", href)
	}
	validated, completed := api.calls()
	if validated != validatedBefore+1 || len(completed) != 2 {
		t.Errorf("validated %d times, posted %d passwords; want 1 and 2", validated-validatedBefore, len(completed))
	}
	b.darkMode(true)
	b.screenshot("fake-success-dark")
	b.darkMode(false)

	// "This wasn't me": confirm, then cancelled; a second time, gone.
	api.mu.Lock()
	api.used = false
	api.mu.Unlock()
	b.open(srv.URL+"/reset-password/#revoke="+revokeToken, "#revoke")
	if loc := eval[string](b, `location.href`); strings.Contains(loc, revokeToken) {
		t.Errorf("the revoke token stays in the address bar: %s", loc)
	}
	b.screenshot("fake-revoke-confirm")
	b.tabTo("revoke-submit")
	b.press(kb.Enter)
	b.waitVisible("#revoked")
	if got := b.text("#revoked h1"); got != "The request was cancelled" {
		t.Errorf("revoked: %q", got)
	}
	b.screenshot("fake-revoked")
	b.open(srv.URL+"/reset-password/#revoke="+revokeToken, "#revoke")
	b.do("click", chromedp.Click(chromedp.CSS("#revoke-submit")))
	b.waitVisible("#revoke-gone")
}

// TestAcceptInvitePanelsInBrowser: the accept-invite page's answers that a
// real server gives only at the right moment: an expired invitation (201)
// says a new one was sent, and never shows the fresh token sandbox
// returns; a busy server says so and offers to try again.
func TestAcceptInvitePanelsInBrowser(t *testing.T) {
	mux := http.NewServeMux()
	(&fakeAPI{}).register(mux)
	web.New(web.Options{ProductName: "Acme"}).Register(mux.Handle)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b := newTab(t)

	b.open(srv.URL+"/accept-invite/#token="+expiredInvite, "#renewed")
	if got := b.text("#renewed-email"); got != liveEmail {
		t.Errorf("renewed panel names %q", got)
	}
	if got := b.text("#renewed"); !strings.Contains(got, "works only for 2 hours") {
		t.Errorf("renewed panel: %q", got)
	}
	b.waitText("#announce", "A new one was sent to "+liveEmail)
	if html := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, sandboxToken) {
		t.Fatal("the page shows the fresh invitation token")
	}
	b.screenshot("fake-invite-renewed")

	b.do("leave", navigateBlank())
	b.open(srv.URL+"/accept-invite/#token="+busyInvite, "#trouble")
	if got := b.text("#trouble-message"); got != "The service is busy right now. Try again in 5 seconds." {
		t.Errorf("busy: %q", got)
	}
	b.do("leave", navigateBlank())
	b.open(srv.URL+"/accept-invite/#token=Dead0000000000000000", "#invalid")
	if got := b.text("#invalid h1"); got != "This invitation is no longer valid" {
		t.Errorf("unknown token: %q", got)
	}
}
