package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestValidateResetBody: POST /organizations/validate-password-reset/
// answers as Validate Password Reset with the token in the body, and does
// not spend it; so does the 2019 docs' /timp/organizations/ path.
func TestValidateResetBody(t *testing.T) {
	for _, prefix := range []string{"/organizations/", "/timp/organizations/"} {
		t.Run(prefix, func(t *testing.T) { testValidateResetBody(t, prefix) })
	}
}

func testValidateResetBody(t *testing.T, prefix string) {
	e := newFuzzEnv(t)
	do := func(method, body string) (int, string) {
		req := httptest.NewRequest(method, prefix+"validate-password-reset/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.sandboxH.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for range 2 { // twice: the first call did not spend it
		code, body := do("POST", `{"token":"`+e.token+`"}`)
		var got struct{ Email, Token string }
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got.Email != fuzzBailey || got.Token != e.token {
			t.Fatalf("live token: %d %s", code, body)
		}
	}
	for _, c := range []struct {
		method, body string
		want         int
	}{
		{"POST", `{"token":"AAAAAAAAAAAAAAAAAAAA"}`, 404},
		{"POST", `{}`, 400},
		{"POST", `{"token":12}`, 400},
		{"GET", ``, 405},
	} {
		if code, body := do(c.method, c.body); code != c.want {
			t.Errorf("%s %s: %d %s; want %d", c.method, c.body, code, body, c.want)
		}
	}
}
