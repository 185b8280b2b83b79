package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

var (
	inviteTokenLine = regexp.MustCompile(`invitation token: ([A-Za-z0-9]{20})\n`)
	mailInviteRE    = regexp.MustCompile(regexp.QuoteMeta(prodPublicURL+"/accept-invite/#token=") + `([A-Za-z0-9]{20})\b`)
)

// TestUserInviteCommand: `cruxd user invite` prints a token and link that a
// real cruxd on the same database accepts, after which the user logs in
// with the permissions given; with --mode production it only queues the
// mail; a permission the organization's type lacks is one line, exit 1.
func TestUserInviteCommand(t *testing.T) {
	t.Parallel()
	db := cruxdtest.NewDB(t)
	out := mustCLI(t, nil, "user", "invite", "--db", db, "--org", "Crux Supplier", "--email", "Ann@CruxSupplier.com",
		"--first", "Ann", "--last", "Lee", "--permissions", "view_org_users", "--public-url", "https://accounts.example/")
	m := inviteTokenLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "status CONFIRMATION WAITING") ||
		!strings.Contains(out, "invitation link: https://accounts.example/accept-invite/#token="+m[1]+"\n") {
		t.Fatalf("user invite printed:\n%s", out)
	}
	out = mustCLI(t, nil, "user", "invite", "--db", db, "--org", "Crux Supplier", "--email", "bob@cruxsupplier.com",
		"--first", "Bob", "--last", "Ode", "--mode", "production")
	if inviteTokenLine.MatchString(out) || !strings.Contains(out, "the invitation mail was queued") {
		t.Errorf("user invite --mode production printed:\n%s", out)
	}
	r := cli(t, nil, "user", "invite", "--db", db, "--org", "Crux Supplier", "--email", "cy@cruxsupplier.com",
		"--first", "Cy", "--last", "Po", "--permissions", "no_such_permission")
	oneLineError(t, "user invite with an unknown permission", r, `"no_such_permission"`)

	p := startSandbox(t, db)
	if r := p.Do(t, "GET", "/organizations/accept-invite/"+m[1]+"/", nil); r.Status != 200 || r.Map(t)["email"] != "ann@cruxsupplier.com" {
		t.Fatalf("validate the printed token: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "POST", "/organizations/accept-invite/"+m[1]+"/", map[string]string{"password": newPW}); r.Status != 204 {
		t.Fatalf("accept with the printed token: %d %s", r.Status, r.Body)
	}
	perms := login(t, p, "ann@cruxsupplier.com", newPW)["permission_assignments"].(map[string]any)["permissions"].([]any)
	var held []string
	for _, pa := range perms {
		if pa := pa.(map[string]any); pa["assigned"] == true {
			held = append(held, pa["permission"].(map[string]any)["name"].(string))
		}
	}
	if strings.Join(held, ",") != account.PermViewOrgUsers {
		t.Errorf("the accepted user holds %v", held)
	}
}

// TestProductionInvite: in production an invitation answers no token; the
// mail arrives at a real Mailpit with the link, whose token validates,
// accepts a password once, and the invited user logs in.
func TestProductionInvite(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	p := startProd(t, newProdDB(t), mp)
	auth := "Token " + login(t, p, roy, royOldPW)["auth_token"].(string)
	r := p.Do(t, "POST", "/organizations/users/", map[string]any{"email": "ann@cruxsupplier.com", "first_name": "Ann", "last_name": "Lee"},
		"Authorization", auth)
	if r.Status != 201 || strings.Contains(string(r.Body), "invitation_token") || r.Map(t)["status"] != "CONFIRMATION WAITING" {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	msgs := mp.WaitMessage(t, "ann@cruxsupplier.com", 1, mailWait)
	d := mp.Message(t, msgs[0].ID)
	m := mailInviteRE.FindStringSubmatch(d.Text)
	if m == nil || d.Subject != "You are invited to Crux Supplier on cruxd" || !strings.Contains(d.HTML, m[0]) {
		t.Fatalf("invitation mail %q:\n%s", d.Subject, d.Text)
	}
	if r := p.Do(t, "GET", "/timp/organizations/accept-invite/"+m[1]+"/", nil); r.Status != 200 || r.Map(t)["email"] != "ann@cruxsupplier.com" {
		t.Fatalf("validate the mailed token: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "POST", "/organizations/accept-invite/"+m[1]+"/", map[string]string{"password": newPW}); r.Status != 204 {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "POST", "/organizations/accept-invite/"+m[1]+"/", map[string]string{"password": newPW}); r.Status != 404 {
		t.Fatalf("accept twice: %d %s", r.Status, r.Body)
	}
	login(t, p, "ann@cruxsupplier.com", newPW)
}
