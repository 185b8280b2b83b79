package httpapi_test

import (
	"strings"
	"testing"
)

// TestLoginResponseShape checks the documented Login body.
func TestLoginResponseShape(t *testing.T) {
	t.Parallel()
	p := newSandboxAPI(t)
	r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": royOldPW})
	if r.Status != 200 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	m := r.Map(t)
	if tok, _ := m["auth_token"].(string); len(tok) != 40 || strings.Trim(tok, "0123456789abcdef") != "" {
		t.Errorf("auth_token %q: want 40 lower-case hex characters", tok)
	}
	if m["org_type"] != "SUPPLIER" || m["retailer_uuid"] != "" || m["supplier_uuid"] != m["org_uuid"] || m["org_uuid"] == "" {
		t.Errorf("organization fields: %v", m)
	}
	pa := m["permission_assignments"].(map[string]any)
	if pa["org_user"].(map[string]any)["uuid"] != m["user_uuid"] {
		t.Errorf("org_user: %v", pa)
	}
	names := map[string]bool{}
	for _, e := range pa["permissions"].([]any) {
		e := e.(map[string]any)
		perm := e["permission"].(map[string]any)
		if e["assigned"] == true {
			names[perm["name"].(string)] = true
		}
		for _, k := range []string{"uuid", "name", "display_name", "description", "visibility", "grouping"} {
			if _, ok := perm[k]; !ok {
				t.Errorf("permission lacks %q: %v", k, perm)
			}
		}
	}
	if !names["view_org_users"] || !names["edit_org_users"] {
		t.Errorf("assigned permissions %v", names)
	}
}
