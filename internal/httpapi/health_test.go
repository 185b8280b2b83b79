package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/postgres"
	"github.com/cruxd/cruxd/internal/sqlite"
	"github.com/cruxd/cruxd/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// mustService returns a Service on store with the real hasher and policy.
func mustService(t *testing.T, store account.Store, cfg account.Config) *account.Service {
	t.Helper()
	hasher, err := password.NewHasher(password.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := password.NewPolicy(15)
	if err != nil {
		t.Fatal(err)
	}
	return account.NewService(store, hasher, policy, cfg, nil)
}

// serveOn starts the API over real HTTP on store.
func serveOn(t *testing.T, store account.Store) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpapi.New(mustService(t, store, account.Config{}), httpapi.Options{}))
	t.Cleanup(srv.Close)
	return srv
}

// probe GETs path and returns the status and the "status" field.
func probe(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %q is not JSON (%v)", path, resp.StatusCode, b, err)
	}
	return resp.StatusCode, body.Status
}

func wantProbe(t *testing.T, srv *httptest.Server, path string, code int, status string) {
	t.Helper()
	if c, s := probe(t, srv, path); c != code || s != status {
		t.Errorf("GET %s = %d %q, want %d %q", path, c, s, code, status)
	}
}

// TestReadyzSQLite: /readyz is 200 on a migrated store, 503 once the
// store's recorded migrations are gone and once it is closed; /healthz
// stays 200 throughout.
func TestReadyzSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cruxd.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	srv := serveOn(t, store)
	wantProbe(t, srv, "/healthz", 200, "ok")
	wantProbe(t, srv, "/readyz", 200, "ok")

	// The schema is missing its migrations (another tool reset it).
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	wantProbe(t, srv, "/readyz", 503, "unavailable")
	wantProbe(t, srv, "/healthz", 200, "ok")

	store.Close()
	wantProbe(t, srv, "/readyz", 503, "unavailable")
	wantProbe(t, srv, "/healthz", 200, "ok")
}

// TestReadyzPostgres: the same on PostgreSQL: 503 when the schema lacks a
// migration cruxd needs and when the pool is closed.
func TestReadyzPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dsn := testenv.PostgresDSN(t)
	store, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveOn(t, store)
	wantProbe(t, srv, "/readyz", 200, "ok")

	// Another tool removed the newest migration's record: the schema is
	// behind what cruxd needs.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantProbe(t, srv, "/readyz", 503, "unavailable")
	wantProbe(t, srv, "/healthz", 200, "ok")

	store.Close()
	wantProbe(t, srv, "/readyz", 503, "unavailable")
}

// TestOpenAPIDocumentsEveryRoute reads routes.go and checks that the
// OpenAPI document has every path it registers, with each method.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	// s.org("p", …) registers p under both organization prefixes.
	re := regexp.MustCompile(`s\.(handle|org)\("([^"]+)", endpoint\{((?s:[^}]*))\}`)
	methods := regexp.MustCompile(`http\.Method(\w+):`)
	found := 0
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		found++
		paths := []string{m[2]}
		if m[1] == "org" {
			paths = []string{"/organizations/" + m[2], "/timp/organizations/" + m[2]}
		}
		for _, path := range paths {
			item := doc.Paths.Value(path)
			if item == nil {
				t.Errorf("route %s is not in the OpenAPI document", path)
				continue
			}
			for _, mm := range methods.FindAllStringSubmatch(m[3], -1) {
				if item.GetOperation(strings.ToUpper(mm[1])) == nil {
					t.Errorf("%s %s is not in the OpenAPI document", strings.ToUpper(mm[1]), path)
				}
			}
		}
	}
	if found < 9 {
		t.Errorf("found %d routes in routes.go: the pattern no longer matches it", found)
	}
	// Every API operation documents its error shapes.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if !strings.HasPrefix(path, "/organizations/") && !strings.HasPrefix(path, "/timp/organizations/") {
				continue
			}
			for _, code := range []int{405, 500, 503} {
				if op.Responses.Status(code) == nil {
					t.Errorf("%s %s does not document %d", method, path, code)
				}
			}
		}
	}
	for _, p := range []string{"/organizations/revoke-password-reset/", "/timp/organizations/revoke-password-reset/"} {
		if !slices.Contains(doc.Paths.InMatchingOrder(), p) {
			t.Errorf("%s is not documented", p)
		}
	}
}
