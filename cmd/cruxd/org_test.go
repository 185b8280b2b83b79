package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

// The sandbox demo data holds the Crux docs' users and example auth tokens.
const (
	docsToken     = "Token a0f17278bed479ee719ea890b8caf0329e1f3e5b" // Jason Weir, Project Thanos, every permission
	docsRoyToken  = "Token d9741c2c241b8f9b9955130ca08dbfbd891d9c84" // Roy Breslawski, Crux Supplier
	docsJason     = "3a7acb28-ab13-437e-8c35-46cf4f0bea49"
	docsMatt      = "cefc9200-91eb-40dd-8937-d8edaa8f955f"
	docsVera      = "5de38a8e-800e-4cba-84c5-ee6c27f304d8" // view_org_users only
	docsRoy       = "52d13dc7-5463-4f90-9e5b-5b8ec97228ff"
	vera          = "vviewer@projectthanos.com"
	docsPW        = "thanosrocks"
	editUsersUUID = "5b0f1c3e-2f0b-4a5e-9a51-2d1c3f7a8b02"
	editItemsUUID = "ae0441fe-48d9-491e-af1d-1f3eab493ea6" // supplier-only
)

// TestOrgAPI runs, against a real sandbox cruxd on SQLite and on
// PostgreSQL, each curl example of the Crux docs' organization pages with
// only the host changed, then the permission rules over real HTTP: 401,
// 403, 404, 400 for another type's permission, 409 for the last editor, a
// change seen in the next login, and a deactivation ending the sessions.
// Every answer is checked against the OpenAPI document.
func TestOrgAPI(t *testing.T) {
	needTool(t, "curl")
	for name, db := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "cruxd.db") },
		"postgres": func(t *testing.T) string { return testenv.PostgresDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startSandbox(t, db(t))
			testOrgExamples(t, p)
			testOrgRules(t, p)
		})
	}
}

// orgCheck sends a request, wants status and a documented answer.
func orgCheck(t *testing.T, p *cruxdtest.Process, status int, method, path string, body any, header ...string) *cruxdtest.Response {
	t.Helper()
	r := p.Do(t, method, path, body, header...)
	if r.Status != status {
		t.Fatalf("%s %s: %d %s; want %d", method, path, r.Status, r.Body, status)
	}
	req, _ := http.NewRequest(method, p.URL+path, nil)
	if err := cruxdtest.ValidateResponse(req, r.Status, r.Header, r.Body); err != nil {
		t.Errorf("%s %s: %d: %v", method, path, r.Status, err)
	}
	return r
}

// testOrgExamples runs each page's curl example as docs/api.md says it
// answers. The GET examples pass -d, which makes curl send a POST: 405, as
// the original service answered; the same request as a GET gets the
// documented 200.
func testOrgExamples(t *testing.T, p *cruxdtest.Process) {
	for _, c := range []struct {
		page   string
		status string
		want   string // in the body
	}{
		{"get_organization_details", "200", `"uuid":"e7409ece-e923-4aa8-a41b-4aacb9e475be"`},
		{"get_all_permissions", "405", `"detail":"Method \"POST\" not allowed."`},
		{"get_all_users", "405", `"detail":"Method \"POST\" not allowed."`},
		{"get_user", "405", `"detail":"Method \"POST\" not allowed."`},
		{"get_user_permissions", "405", `"detail":"Method \"POST\" not allowed."`},
		{"add_user_permissions", "200", `"assigned":true,"permission":{"uuid":"2a0295b6-dd74-4239-9988-24fcdb1adcea"`},
		{"remove_user_permissions", "200", `"assigned":false,"permission":{"uuid":"2a0295b6-dd74-4239-9988-24fcdb1adcea"`},
	} {
		b, err := os.ReadFile("testdata/org-pages/" + c.page + ".md")
		if err != nil {
			t.Fatal(err)
		}
		script := strings.TrimSpace(strings.ReplaceAll(example(t, string(b), "bash"), seedHost, p.URL))
		if !strings.Contains(script, p.URL+"/organizations/") {
			t.Fatalf("%s: host not replaced in %q", c.page, script)
		}
		out, err := exec.Command("bash", "-c", script+" -sS -w '\\n%{http_code}'").Output()
		if err != nil {
			t.Fatalf("%s: curl: %v", c.page, err)
		}
		body, code, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if code != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s's curl example: %s %s; want %s with %s", c.page, code, body, c.status, c.want)
		}
	}
	// The GET examples as GETs (as their HTTPie, Python and Node versions
	// send them).
	for path, n := range map[string]int{"/organizations/all_permissions/": 16, "/organizations/users/all/": 3} {
		var list []any
		orgCheck(t, p, 200, "GET", path, nil, "Authorization", docsToken).JSON(t, &list)
		if len(list) != n {
			t.Errorf("GET %s: %d items, want %d", path, len(list), n)
		}
	}
	orgCheck(t, p, 200, "GET", "/organizations/users/detail/"+docsRoy+"/", nil, "Authorization", docsRoyToken)
	orgCheck(t, p, 200, "GET", "/organizations/users/permissions/"+docsJason+"/", nil, "Authorization", docsToken)
}

func testOrgRules(t *testing.T, p *cruxdtest.Process) {
	veraAuth := "Token " + login(t, p, vera, docsPW)["auth_token"].(string)
	perms := "/timp/organizations/users/permissions/"
	grant := map[string][]string{"permission_uuids": {editUsersUUID}}

	orgCheck(t, p, 401, "GET", "/organizations/users/all/", nil)
	orgCheck(t, p, 401, "PATCH", perms+docsVera+"/", grant)
	orgCheck(t, p, 403, "PATCH", perms+docsMatt+"/", grant, "Authorization", veraAuth)
	orgCheck(t, p, 403, "POST", "/organizations/users/deactivate/"+docsMatt+"/", nil, "Authorization", veraAuth)
	orgCheck(t, p, 404, "GET", perms+docsRoy+"/", nil, "Authorization", docsToken)
	orgCheck(t, p, 404, "PATCH", perms+docsRoy+"/", grant, "Authorization", docsToken)
	orgCheck(t, p, 404, "PATCH", perms+"00000000-0000-4000-8000-000000000000/", grant, "Authorization", docsToken)
	r := orgCheck(t, p, 400, "PATCH", perms+docsVera+"/", map[string][]string{"permission_uuids": {editItemsUUID}}, "Authorization", docsToken)
	if !strings.Contains(string(r.Body), editItemsUUID) {
		t.Errorf("400 does not name the supplier-only permission: %s", r.Body)
	}

	// Vera gets edit_org_users: her next login shows it, and she may now
	// change users.
	orgCheck(t, p, 200, "PATCH", perms+docsVera+"/", grant, "Authorization", docsToken)
	var names []string
	for _, e := range login(t, p, vera, docsPW)["permission_assignments"].(map[string]any)["permissions"].([]any) {
		if e := e.(map[string]any); e["assigned"] == true {
			names = append(names, e["permission"].(map[string]any)["name"].(string))
		}
	}
	if !slices.Equal(names, []string{"view_org_users", "edit_org_users"}) {
		t.Errorf("Vera's next login: %v", names)
	}
	orgCheck(t, p, 200, "POST", "/organizations/users/deactivate/"+docsMatt+"/", nil, "Authorization", veraAuth)

	// Vera deactivates Jason; his (the docs') token dies with it. Then she
	// is the last editor: she can neither lose edit_org_users nor step down.
	orgCheck(t, p, 200, "POST", "/organizations/users/deactivate/"+docsJason+"/", nil, "Authorization", veraAuth)
	orgCheck(t, p, 401, "GET", "/organizations/", nil, "Authorization", docsToken)
	orgCheck(t, p, 409, "DELETE", perms+docsVera+"/", grant, "Authorization", veraAuth)
	orgCheck(t, p, 409, "POST", "/organizations/users/deactivate/"+docsVera+"/", nil, "Authorization", veraAuth)
	u := orgCheck(t, p, 200, "POST", "/organizations/users/reactivate/"+docsJason+"/", nil, "Authorization", veraAuth).Map(t)
	if u["status"] != "ACTIVE" {
		t.Errorf("reactivated Jason: %v", u)
	}
	login(t, p, "jweir@projectthanos.com", docsPW)
}
