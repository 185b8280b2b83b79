package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/cruxdtest"
)

// call sends one request to h and checks the answer against the OpenAPI
// document.
func call(t *testing.T, h http.Handler, method, path, auth, body string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", "Token "+auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if err := cruxdtest.ValidateResponse(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Errorf("%s %s: %d %s: not as documented: %v", method, path, rec.Code, rec.Body, err)
	}
	return rec.Code, rec.Header(), rec.Body.String()
}

type invitedUser struct {
	UUID   string
	Person struct {
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Email     string
	}
	PermissionAssignments struct {
		Permissions []struct {
			Assigned   bool
			Permission struct{ Name string }
		}
	} `json:"permission_assignments"`
	Status          string
	InvitationToken string `json:"invitation_token"`
}

func (u invitedUser) assigned() []string {
	var out []string
	for _, p := range u.PermissionAssignments.Permissions {
		if p.Assigned {
			out = append(out, p.Permission.Name)
		}
	}
	return out
}

// TestInviteFlow: Roy (edit_org_users) invites Ann over HTTP in sandbox:
// 201 with the user awaiting confirmation and the invitation token; the
// token validates (200), refuses a weak password (400, the policy's
// reason), accepts a good one (204) once, and Ann logs in.
func TestInviteFlow(t *testing.T) {
	e := newFuzzEnv(t)
	view, _ := account.PermissionByName(account.PermViewOrgUsers)
	code, _, body := call(t, e.sandboxH, "POST", "/organizations/users/", e.auth,
		`{"email": "Ann@CruxSupplier.com", "first_name": "Ann", "last_name": "Lee", "permission_uuids": ["`+view.UUID+`"]}`)
	var u invitedUser
	if err := json.Unmarshal([]byte(body), &u); code != 201 || err != nil {
		t.Fatalf("invite: %d %s", code, body)
	}
	if u.Status != "CONFIRMATION WAITING" || u.Person.Email != "ann@cruxsupplier.com" || u.Person.FirstName != "Ann" ||
		strings.Join(u.assigned(), ",") != account.PermViewOrgUsers || len(u.InvitationToken) != 20 {
		t.Fatalf("invited user %+v", u)
	}
	tok := u.InvitationToken
	for _, path := range []string{"/organizations/accept-invite/" + tok + "/", "/organizations/accept-invite/" + tok, "/timp/organizations/accept-invite/" + tok + "/"} {
		code, _, body = call(t, e.sandboxH, "GET", path, "", "")
		if code != 200 || body != `{"email":"ann@cruxsupplier.com","token":"`+tok+`"}` {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/validate-invite/", "", `{"token": "`+tok+`"}`)
	if code != 200 || !strings.Contains(body, `"email":"ann@cruxsupplier.com"`) {
		t.Fatalf("validate-invite: %d %s", code, body)
	}
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/accept-invite/"+tok+"/", "", `{"password": "ann"}`)
	if code != 400 || !strings.HasPrefix(body, `{"password":["`) {
		t.Fatalf("weak password: %d %s", code, body)
	}
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/user-login/", "", `{"username": "ann@cruxsupplier.com", "password": "correct horse battery staple"}`)
	if code != 401 {
		t.Fatalf("login before accepting: %d %s", code, body)
	}
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/accept-invite/"+tok+"/", "", `{"password": "correct horse battery staple"}`)
	if code != 204 || body != "" {
		t.Fatalf("accept: %d %s", code, body)
	}
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/user-login/", "", `{"username": "ann@cruxsupplier.com", "password": "correct horse battery staple"}`)
	if code != 200 || !strings.Contains(body, `"user_uuid":"`+u.UUID+`"`) {
		t.Fatalf("login after accepting: %d %s", code, body)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/organizations/accept-invite/" + tok + "/", `{"password": "correct horse battery staple"}`},
		{"GET", "/organizations/accept-invite/" + tok + "/", ""},
		{"POST", "/organizations/accept-invite/", `{"token": "` + tok + `", "password": "correct horse battery staple"}`},
	} {
		if code, _, body := call(t, e.sandboxH, c.method, c.path, "", c.body); code != 404 || body != `{"detail":"Invalid or expired token."}` {
			t.Errorf("%s %s after accepting: %d %s", c.method, c.path, code, body)
		}
	}
	code, _, body = call(t, e.sandboxH, "GET", "/organizations/users/detail/"+u.UUID+"/", e.auth, "")
	if code != 200 || !strings.Contains(body, `"status":"ACTIVE"`) {
		t.Errorf("Get User of the accepted user: %d %s", code, body)
	}
}

// TestInviteRefused: every refusal of the invite call, with its documented
// status and body.
func TestInviteRefused(t *testing.T) {
	e := newFuzzEnv(t)
	ctx := context.Background()
	if _, err := e.sandbox.CreateUser(ctx, account.NewUser{OrgName: "Crux Supplier", Email: "viewer@cruxsupplier.com",
		Password: "correct horse battery staple", Perms: []string{account.PermViewOrgUsers}}); err != nil {
		t.Fatal(err)
	}
	sess, err := e.sandbox.Login(ctx, "viewer@cruxsupplier.com", "correct horse battery staple", account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	const ann = `{"email": "ann@cruxsupplier.com", "first_name": "Ann", "last_name": "Lee"}`
	for _, c := range []struct {
		name, auth, body string
		code             int
		want             string
	}{
		{"no token", "", ann, 401, `{"detail":"Invalid token."}`},
		{"bad token", strings.Repeat("0", 40), ann, 401, `{"detail":"Invalid token."}`},
		{"no edit_org_users", sess.AuthToken, ann, 403, `{"detail":"You do not have permission to perform this action."}`},
		{"address of another organization", e.auth, `{"email": "mrbailey@projectthanos.com", "first_name": "A", "last_name": "B"}`,
			400, `{"email":["A user with this e-mail address already exists."]}`},
		{"unknown permission", e.auth, `{"email": "ann@cruxsupplier.com", "first_name": "A", "last_name": "B", "permission_uuids": ["nope"]}`,
			400, `{"permission_uuids":["\"nope\" is not a permission of a SUPPLIER organization."]}`},
		{"permissions not a list", e.auth, `{"email": "ann@cruxsupplier.com", "first_name": "A", "last_name": "B", "permission_uuids": "x"}`,
			400, `{"permission_uuids":["Expected a list of items."]}`},
		{"missing fields", e.auth, `{"email": "ann@cruxsupplier.com"}`,
			400, `{"first_name":["This field is required."],"last_name":["This field is required."]}`},
		{"malformed JSON", e.auth, `{"email": `, 400, `{"detail":"JSON parse error - unexpected end of JSON input"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, h, body := call(t, e.sandboxH, "POST", "/organizations/users/", c.auth, c.body)
			if code != c.code || body != c.want {
				t.Errorf("%d %s; want %d %s", code, body, c.code, c.want)
			}
			if code == 401 && h.Get("WWW-Authenticate") != "Token" {
				t.Errorf("401 without WWW-Authenticate: Token")
			}
		})
	}
	if code, h, _ := call(t, e.sandboxH, "GET", "/organizations/users/", e.auth, ""); code != 405 || h.Get("Allow") != "POST" {
		t.Errorf("GET /organizations/users/: %d, Allow %q", code, h.Get("Allow"))
	}
	if code, _, body := call(t, e.sandboxH, "GET", "/organizations/accept-invite/AAAAAAAAAAAAAAAAAAAA/", "", ""); code != 404 {
		t.Errorf("unknown invitation: %d %s", code, body)
	}
}

// TestInviteProductionAndExpiry: production never answers the token; an
// expired token answers 201 and a fresh invitation, in sandbox with its
// token, once.
func TestInviteProductionAndExpiry(t *testing.T) {
	e := newFuzzEnv(t)
	code, _, body := call(t, e.prodH, "POST", "/organizations/users/", e.auth, `{"email": "ann@cruxsupplier.com", "first_name": "Ann", "last_name": "Lee"}`)
	if code != 201 || strings.Contains(body, "invitation_token") {
		t.Fatalf("production invite: %d %s", code, body)
	}
	// Invited again in sandbox: 200, the same user, a token to use.
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/users/", e.auth, `{"email": "ann@cruxsupplier.com", "first_name": "X", "last_name": "Y"}`)
	var u invitedUser
	if err := json.Unmarshal([]byte(body), &u); code != 200 || err != nil || u.Person.FirstName != "Ann" || u.InvitationToken == "" {
		t.Fatalf("invited again: %d %s", code, body)
	}
	later := time.Now().Add(account.InvitationTTL + time.Minute)
	e.sandbox.Now = func() time.Time { return later }
	code, _, body = call(t, e.sandboxH, "GET", "/organizations/accept-invite/"+u.InvitationToken+"/", "", "")
	var renewed struct{ Email, Token, Detail string }
	if err := json.Unmarshal([]byte(body), &renewed); code != 201 || err != nil || renewed.Email != "ann@cruxsupplier.com" ||
		len(renewed.Token) != 20 || renewed.Detail != account.MsgInvitationRenewed {
		t.Fatalf("expired: %d %s", code, body)
	}
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/validate-invite/", "", `{"token": "`+u.InvitationToken+`"}`)
	if code != 201 || strings.Contains(body, `"token"`) {
		t.Fatalf("expired, opened again: %d %s", code, body)
	}
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/accept-invite/"+u.InvitationToken+"/", "", `{"password": "correct horse battery staple"}`)
	if code != 404 {
		t.Fatalf("accept with the expired token: %d %s", code, body)
	}
	code, _, body = call(t, e.sandboxH, "POST", "/organizations/accept-invite/", "", `{"token": "`+renewed.Token+`", "password": "correct horse battery staple"}`)
	if code != 204 {
		t.Fatalf("accept with the fresh token: %d %s", code, body)
	}
}

// TestInviteDocExamples sends the Crux docs' invitation examples as
// written, host aside: their token was never issued here, so both answer
// the documented 404.
func TestInviteDocExamples(t *testing.T) {
	e := newFuzzEnv(t)
	const path = "/timp/organizations/accept-invite/KUMJLpo0tzFVeC5w1uni/"
	if code, _, body := call(t, e.sandboxH, "GET", path, "", ""); code != 404 || body != `{"detail":"Invalid or expired token."}` {
		t.Errorf("Validate Crux Invite example: %d %s", code, body)
	}
	req := httptest.NewRequest("POST", path, strings.NewReader("{\n  \"password\": \"crux_is_awesome\"\n}"))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	rec := httptest.NewRecorder()
	e.sandboxH.ServeHTTP(rec, req)
	if err := cruxdtest.ValidateResponse(req, rec.Code, rec.Header(), rec.Body.Bytes()); rec.Code != 404 || err != nil {
		t.Errorf("Accept Crux Invite example: %d %s (%v)", rec.Code, rec.Body, err)
	}
}
