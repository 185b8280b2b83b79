package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// The demo users of the sandbox that API tests use.
const (
	roy      = "rbreslawski@cruxsupplier.com"
	royOldPW = "thanos_rocks"
)

// testAPI is the API over real HTTP on a real SQLite store seeded with the
// sandbox's demo accounts, with the framing guard serve puts on its
// listener. What does not depend on the store kind or on the process is
// tested here rather than against cruxd processes on both stores.
type testAPI struct {
	*httptest.Server
	svc *account.Service
}

// newSandboxAPI returns the sandbox API.
func newSandboxAPI(t *testing.T) *testAPI {
	t.Helper()
	return newTestAPI(t, account.Config{Mode: account.Sandbox})
}

// newProductionAPI returns the production API, mail on, with limits.
func newProductionAPI(t *testing.T, limits account.Limits) *testAPI {
	t.Helper()
	return newTestAPI(t, account.Config{Mode: account.Production, Mail: true, Limits: limits})
}

func newTestAPI(t *testing.T, cfg account.Config) *testAPI {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cruxd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	policy, err := password.NewPolicy(password.DefaultMinLength)
	if err != nil {
		t.Fatal(err)
	}
	hasher := cheapHasher(t)
	seeder := account.NewService(store, hasher, policy, account.Config{Mode: account.Sandbox}, nil)
	if _, err := seeder.SeedSandbox(ctx); err != nil {
		t.Fatal(err)
	}
	svc := account.NewService(store, hasher, policy, cfg, nil)
	srv := httptest.NewUnstartedServer(httpapi.New(svc, httpapi.Options{}))
	srv.Listener = httpapi.GuardFraming(srv.Config, srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)
	return &testAPI{Server: srv, svc: svc}
}

// Do sends one request and checks its answer against the OpenAPI document;
// see cruxdtest.Do.
func (a *testAPI) Do(t *testing.T, method, path string, body any, header ...string) *cruxdtest.Response {
	t.Helper()
	return cruxdtest.Do(t, method, a.URL+path, body, header...)
}

// stillServing fails the test unless Roy's login succeeds.
func (a *testAPI) stillServing(t *testing.T) {
	t.Helper()
	r := a.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": royOldPW})
	if r.Status != 200 {
		t.Fatalf("normal request after hostile input: %d %s", r.Status, r.Body)
	}
}

// sameJSON reports whether the JSON a equals the JSON b.
func sameJSON(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("bad want %s", b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
