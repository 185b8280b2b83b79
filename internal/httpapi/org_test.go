package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// The organization calls on a real SQLite store seeded with the sandbox
// demo data: Jason Weir (Project Thanos, every retailer permission) and Roy
// Breslawski (Crux Supplier) hold the Crux docs' example auth tokens; Vera
// Viewer holds only view_org_users.
const (
	jasonAuth = "Token a0f17278bed479ee719ea890b8caf0329e1f3e5b"
	royAuth   = "Token d9741c2c241b8f9b9955130ca08dbfbd891d9c84"
	jasonUUID = "3a7acb28-ab13-437e-8c35-46cf4f0bea49"
	mattUUID  = "cefc9200-91eb-40dd-8937-d8edaa8f955f"
	veraUUID  = "5de38a8e-800e-4cba-84c5-ee6c27f304d8"
	royUUID   = "52d13dc7-5463-4f90-9e5b-5b8ec97228ff"
	veraEmail = "vviewer@projectthanos.com"
	mattEmail = "mrbailey@projectthanos.com"
	demoPW    = "thanosrocks"

	// The docs' Add and Remove User Permissions examples' uuids:
	// view_order and view_items.
	viewOrderUUID = "2a0295b6-dd74-4239-9988-24fcdb1adcea"
	viewItemsUUID = "05a46c58-9d13-4912-9167-7effc2cc7482"
	editUsersUUID = "5b0f1c3e-2f0b-4a5e-9a51-2d1c3f7a8b02"
	editItemsUUID = "ae0441fe-48d9-491e-af1d-1f3eab493ea6" // supplier-only
)

type orgEnv struct {
	svc *account.Service
	h   http.Handler
}

func newOrgEnv(t *testing.T) *orgEnv {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "org.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	policy, err := password.PolicyFor(true, 0)
	if err != nil {
		t.Fatal(err)
	}
	svc := account.NewService(store, cheapHasher(t), policy, account.Config{Mode: account.Sandbox, HashWait: 10 * time.Second}, nil)
	if ok, err := svc.SeedSandbox(ctx); err != nil || !ok {
		t.Fatalf("seed: %v %v", ok, err)
	}
	return &orgEnv{svc: svc, h: httpapi.New(svc, httpapi.Options{})}
}

// do sends one request; body "" sends none.
func (e *orgEnv) do(t *testing.T, method, path, auth, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	// Every answer is one the OpenAPI document allows.
	vreq := httptest.NewRequest(method, "http://cruxd.test"+path, nil)
	if err := cruxdtest.ValidateResponse(vreq, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Errorf("%s %s: %d %s: not as documented: %v", method, path, rec.Code, rec.Body, err)
	}
	return rec
}

// want sends a request, checks its status and decodes its body into v.
func (e *orgEnv) want(t *testing.T, status int, method, path, auth, body string, v any) *httptest.ResponseRecorder {
	t.Helper()
	rec := e.do(t, method, path, auth, body)
	if rec.Code != status {
		t.Fatalf("%s %s: %d %s; want %d", method, path, rec.Code, rec.Body, status)
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec
}

// login logs email in and returns its "Token T" header value.
func (e *orgEnv) login(t *testing.T, email string) string {
	t.Helper()
	var got struct {
		AuthToken string `json:"auth_token"`
	}
	e.want(t, 200, "POST", "/organizations/user-login/", "", fmt.Sprintf(`{"username": %q, "password": %q}`, email, demoPW), &got)
	return "Token " + got.AuthToken
}

type assignmentsJSON struct {
	Permissions []struct {
		Assigned   bool `json:"assigned"`
		Permission struct {
			UUID       string `json:"uuid"`
			Name       string `json:"name"`
			Visibility string `json:"visibility"`
		} `json:"permission"`
	} `json:"permissions"`
	OrgUser struct {
		UUID string `json:"uuid"`
	} `json:"org_user"`
}

// assigned returns the names of the assigned permissions.
func (a assignmentsJSON) assigned() []string {
	var out []string
	for _, p := range a.Permissions {
		if p.Assigned {
			out = append(out, p.Permission.Name)
		}
	}
	return out
}

// noBody builds a user without any permission in Project Thanos and
// returns its auth header.
func (e *orgEnv) noPermsUser(t *testing.T) string {
	t.Helper()
	_, err := e.svc.CreateUser(context.Background(), account.NewUser{OrgName: "Project Thanos", Email: "nobody@projectthanos.com",
		Password: demoPW, Perms: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return e.login(t, "nobody@projectthanos.com")
}

// TestOrgDetails: Get Organization Details answers the caller's
// organization as the docs' object, under both prefixes; 401 without a
// token.
func TestOrgDetails(t *testing.T) {
	e := newOrgEnv(t)
	for _, p := range []string{"/organizations/", "/timp/organizations/", "/organizations"} {
		var got map[string]any
		e.want(t, 200, "GET", p, jasonAuth, "", &got)
		if got["uuid"] != "e7409ece-e923-4aa8-a41b-4aacb9e475be" || got["name"] != "Project Thanos" || got["org_type"] != "RETAILER" ||
			got["status"] != "ACTIVE" || got["account_manager"] != nil || got["active_date"] != got["created_date"] {
			t.Errorf("GET %s: %v", p, got)
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got["created_date"])); err != nil {
			t.Errorf("created_date: %v", err)
		}
		if _, ok := got["account_manager"]; !ok {
			t.Errorf("account_manager missing, want null: %v", got)
		}
	}
	e.want(t, 401, "GET", "/organizations/", "", "", nil)
	e.want(t, 405, "POST", "/organizations/", jasonAuth, "", nil)
}

// TestAllPermissions: Get All Permissions lists the catalogue of the
// caller's organization type; it needs view_org_users.
func TestAllPermissions(t *testing.T) {
	e := newOrgEnv(t)
	for auth, typ := range map[string]account.OrgType{jasonAuth: account.Retailer, royAuth: account.Supplier} {
		var got []map[string]string
		e.want(t, 200, "GET", "/timp/organizations/all_permissions/", auth, "", &got)
		want := account.PermissionsFor(typ)
		if len(got) != len(want) {
			t.Fatalf("%s: %d permissions, want %d", typ, len(got), len(want))
		}
		for i, p := range want {
			g := got[i]
			if g["uuid"] != p.UUID || g["name"] != p.Name || g["display_name"] != p.DisplayName || g["description"] != p.Description ||
				g["visibility"] != p.Visibility || g["grouping"] != p.Grouping {
				t.Errorf("%s: permission %d = %v, want %+v", typ, i, g, p)
			}
		}
	}
	e.want(t, 401, "GET", "/organizations/all_permissions/", "", "", nil)
	e.want(t, 403, "GET", "/organizations/all_permissions/", e.noPermsUser(t), "", nil)
}

// TestAllUsers: Get All Users lists the caller's organization, each user as
// the docs' object (phone and job_title null when unset), needs
// view_org_users, and pages by 100 with a Link header while the body stays
// a plain list.
func TestAllUsers(t *testing.T) {
	e := newOrgEnv(t)
	var users []struct {
		UUID   string `json:"uuid"`
		Person struct {
			Email    string  `json:"email"`
			Phone    *string `json:"phone"`
			JobTitle *string `json:"job_title"`
		} `json:"person"`
		Permissions assignmentsJSON `json:"permission_assignments"`
		Status      string          `json:"status"`
	}
	rec := e.want(t, 200, "GET", "/organizations/users/all/", jasonAuth, "", &users)
	if len(users) != 3 || rec.Header().Get("Link") != "" {
		t.Fatalf("%d users, Link %q; want Project Thanos's 3 and no Link", len(users), rec.Header().Get("Link"))
	}
	for _, u := range users {
		if u.Status != "ACTIVE" || u.Permissions.OrgUser.UUID != u.UUID || len(u.Permissions.Permissions) != 16 || u.Person.JobTitle != nil {
			t.Errorf("user %s: %+v", u.UUID, u)
		}
		if u.UUID == veraUUID && (u.Person.Phone != nil || !slices.Equal(u.Permissions.assigned(), []string{"view_org_users"})) {
			t.Errorf("Vera: phone %v, permissions %v; want null and view_org_users", u.Person.Phone, u.Permissions.assigned())
		}
		if u.UUID == jasonUUID && (u.Person.Phone == nil || *u.Person.Phone != "1-722-036-2568x9442") {
			t.Errorf("Jason's phone: %v", u.Person.Phone)
		}
	}
	e.want(t, 401, "GET", "/organizations/users/all/", "", "", nil)
	e.want(t, 403, "GET", "/organizations/users/all/", e.noPermsUser(t), "", nil)

	// 3 demo users, the permission-less one and 246 more: pages of 100,
	// 100 and 50.
	for i := range 246 {
		if _, err := e.svc.CreateUser(context.Background(), account.NewUser{OrgName: "Project Thanos",
			Email: fmt.Sprintf("user%03d@projectthanos.com", i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for page, want := range map[int]struct {
		n     int
		links []string
	}{
		1: {100, []string{`</organizations/users/all/?page=2>; rel="next"`}},
		2: {100, []string{`</organizations/users/all/?page=3>; rel="next"`, `</organizations/users/all/?page=1>; rel="prev"`}},
		3: {50, []string{`</organizations/users/all/?page=2>; rel="prev"`}},
	} {
		users = nil
		rec := e.want(t, 200, "GET", fmt.Sprintf("/organizations/users/all/?page=%d", page), jasonAuth, "", &users)
		if len(users) != want.n || !slices.Equal(rec.Header().Values("Link"), want.links) {
			t.Errorf("page %d: %d users, Link %q; want %d, %q", page, len(users), rec.Header().Values("Link"), want.n, want.links)
		}
		for _, u := range users {
			if seen[u.UUID] {
				t.Errorf("user %s on two pages", u.UUID)
			}
			seen[u.UUID] = true
		}
	}
	if len(seen) != 250 {
		t.Errorf("%d users over the pages, want 250", len(seen))
	}
	for _, page := range []string{"4", "0", "-1", "x", ""} {
		var got map[string]string
		e.want(t, 404, "GET", "/organizations/users/all/?page="+page, jasonAuth, "", &got)
		if got["detail"] != account.MsgInvalidPage {
			t.Errorf("page %q: %v", page, got)
		}
	}
}

// TestUserPermissionsRead: Get User Permissions reads as Get User: itself,
// or with view_org_users another user of the organization; 404 for another
// organization's user or an unknown uuid.
func TestUserPermissionsRead(t *testing.T) {
	e := newOrgEnv(t)
	var got assignmentsJSON
	e.want(t, 200, "GET", "/organizations/users/permissions/"+veraUUID+"/", jasonAuth, "", &got)
	if got.OrgUser.UUID != veraUUID || !slices.Equal(got.assigned(), []string{"view_org_users"}) || len(got.Permissions) != 16 {
		t.Errorf("Vera's permissions: %+v", got)
	}
	e.want(t, 404, "GET", "/organizations/users/permissions/"+royUUID+"/", jasonAuth, "", nil)
	e.want(t, 404, "GET", "/organizations/users/permissions/00000000-0000-4000-8000-000000000000/", jasonAuth, "", nil)
	e.want(t, 401, "GET", "/organizations/users/permissions/"+veraUUID+"/", "", "", nil)
	e.want(t, 403, "GET", "/organizations/users/permissions/"+veraUUID+"/", e.noPermsUser(t), "", nil)
}

// TestChangePermissions: Add and Remove User Permissions need
// edit_org_users, refuse (naming them) uuids that are no permission of the
// caller's organization type, show in the user's next login, never leave
// the organization without an active editor (409), and land in the audit
// trail with who, whom and what.
func TestChangePermissions(t *testing.T) {
	e := newOrgEnv(t)
	path := "/organizations/users/permissions/" + veraUUID + "/"
	docsBody := `{"permission_uuids": ["` + viewOrderUUID + `", "` + viewItemsUUID + `"]}`
	var got assignmentsJSON
	e.want(t, 200, "PATCH", path, jasonAuth, docsBody, &got)
	if want := []string{"view_org_users", "view_order", "view_items"}; !slices.Equal(got.assigned(), want) {
		t.Fatalf("after PATCH: %v, want %v", got.assigned(), want)
	}
	var sess struct {
		Permissions assignmentsJSON `json:"permission_assignments"`
	}
	e.want(t, 200, "POST", "/organizations/user-login/", "", `{"username": "`+veraEmail+`", "password": "`+demoPW+`"}`, &sess)
	if !slices.Equal(sess.Permissions.assigned(), got.assigned()) {
		t.Errorf("Vera's next login: %v, want %v", sess.Permissions.assigned(), got.assigned())
	}
	e.want(t, 200, "DELETE", path, jasonAuth, `{"permission_uuids": ["`+viewOrderUUID+`"]}`, &got)
	if want := []string{"view_org_users", "view_items"}; !slices.Equal(got.assigned(), want) {
		t.Errorf("after DELETE: %v, want %v", got.assigned(), want)
	}

	vera := e.login(t, veraEmail)
	e.want(t, 403, "PATCH", "/timp"+path, vera, docsBody, nil)
	e.want(t, 403, "DELETE", "/organizations/users/permissions/"+jasonUUID+"/", vera, docsBody, nil)
	e.want(t, 401, "PATCH", path, "", docsBody, nil)
	e.want(t, 404, "PATCH", "/organizations/users/permissions/"+royUUID+"/", jasonAuth, docsBody, nil)
	e.want(t, 404, "PATCH", "/organizations/users/permissions/nope/", jasonAuth, docsBody, nil)

	for body, want := range map[string]string{
		`{"permission_uuids": ["` + editItemsUUID + `"]}`:                            `"` + editItemsUUID + `"`, // supplier-only
		`{"permission_uuids": ["` + viewOrderUUID + `", "51690784-8e22-44f2-a6b6"]}`: `"51690784-8e22-44f2-a6b6"`,
		`{"permission_uuids": "` + viewOrderUUID + `"}`:                              "Expected a list of items",
		`{"permission_uuids": [1]}`:                                                  "Expected a list of items",
		`{}`:                                                                         account.MsgFieldRequired,
	} {
		var fe map[string][]string
		e.want(t, 400, "PATCH", path, jasonAuth, body, &fe)
		if len(fe["permission_uuids"]) != 1 || !strings.Contains(fe["permission_uuids"][0], want) {
			t.Errorf("PATCH %s: %v; want a permission_uuids error naming %s", body, fe, want)
		}
	}
	e.want(t, 200, "GET", path, jasonAuth, "", &got)
	if want := []string{"view_org_users", "view_items"}; !slices.Equal(got.assigned(), want) {
		t.Errorf("refused changes changed %v", got.assigned())
	}

	// Matt and Jason hold edit_org_users: one may lose it, not both.
	noEdit := `{"permission_uuids": ["` + editUsersUUID + `"]}`
	e.want(t, 200, "DELETE", "/organizations/users/permissions/"+mattUUID+"/", jasonAuth, noEdit, nil)
	var conflict map[string]string
	e.want(t, 409, "DELETE", "/organizations/users/permissions/"+jasonUUID+"/", jasonAuth, noEdit, &conflict)
	if conflict["detail"] != account.MsgLastUserEditor {
		t.Errorf("409 body %v", conflict)
	}
	e.want(t, 200, "PATCH", "/organizations/users/permissions/"+veraUUID+"/", jasonAuth, noEdit, nil)
	e.want(t, 200, "DELETE", "/organizations/users/permissions/"+jasonUUID+"/", jasonAuth, noEdit, nil)

	trail, err := e.svc.AuditTrail(context.Background(), veraEmail, 0)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, ev := range trail {
		if ev.Action == account.AuditOrgUser {
			details = append(details, ev.Detail)
		}
	}
	want := []string{
		"by user " + jasonUUID + ": permissions granted: view_order, view_items",
		"by user " + jasonUUID + ": permissions removed: view_order",
		"by user " + jasonUUID + ": permissions granted: edit_org_users",
	}
	if !slices.Equal(details, want) {
		t.Errorf("Vera's audit trail:\n%q\nwant\n%q", details, want)
	}
}

// TestDeactivateReactivate: an edit_org_users holder deactivates a user of
// the organization, whose auth and reset tokens die with it, and
// reactivates it; never the last active editor (409); 403 without
// edit_org_users, 404 for another organization's user.
func TestDeactivateReactivate(t *testing.T) {
	e := newOrgEnv(t)
	ctx := context.Background()
	vera := e.login(t, veraEmail)
	reset, err := e.svc.RequestReset(ctx, veraEmail, account.Meta{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	e.want(t, 403, "POST", "/organizations/users/deactivate/"+mattUUID+"/", vera, "", nil)
	e.want(t, 404, "POST", "/organizations/users/deactivate/"+royUUID+"/", jasonAuth, "", nil)
	e.want(t, 401, "POST", "/organizations/users/deactivate/"+veraUUID+"/", "", "", nil)

	var u struct{ Status string }
	e.want(t, 200, "POST", "/timp/organizations/users/deactivate/"+veraUUID+"/", jasonAuth, "", &u)
	if u.Status != "DEACTIVATED" {
		t.Errorf("status %q after deactivate", u.Status)
	}
	e.want(t, 401, "GET", "/organizations/", vera, "", nil)
	if _, err := e.svc.ValidateReset(ctx, reset); account.ErrorCode(err) != account.ENOTFOUND {
		t.Errorf("Vera's reset token after deactivation: %v", err)
	}
	e.want(t, 401, "POST", "/organizations/user-login/", "", `{"username": "`+veraEmail+`", "password": "`+demoPW+`"}`, nil)

	e.want(t, 200, "POST", "/organizations/users/reactivate/"+veraUUID+"/", jasonAuth, "", &u)
	if u.Status != "ACTIVE" {
		t.Errorf("status %q after reactivate", u.Status)
	}
	e.login(t, veraEmail)
	e.want(t, 401, "GET", "/organizations/", vera, "", nil) // the old session stays ended

	// Jason deactivates Matt, the other editor, then cannot deactivate
	// himself.
	e.want(t, 200, "POST", "/organizations/users/deactivate/"+mattUUID+"/", jasonAuth, "", nil)
	var conflict map[string]string
	e.want(t, 409, "POST", "/organizations/users/deactivate/"+jasonUUID+"/", jasonAuth, "", &conflict)
	if conflict["detail"] != account.MsgLastUserEditor {
		t.Errorf("409 body %v", conflict)
	}
	e.want(t, 200, "GET", "/organizations/", jasonAuth, "", nil)

	trail, err := e.svc.AuditTrail(ctx, mattEmail, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(trail); n == 0 || trail[n-1].Action != account.AuditOrgUser || trail[n-1].IP == "" ||
		!strings.HasPrefix(trail[n-1].Detail, "by user "+jasonUUID+": user deactivated") {
		t.Errorf("Matt's audit trail ends %+v", trail[len(trail)-1])
	}
}
