package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/metrics"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// TestClientGone: a request whose client hung up before the store answered
// is no internal error: no ERROR line, the request line says 499, and it
// is counted in cruxd_http_requests_abandoned_total.
func TestClientGone(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "cruxd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New(log)
	api := httpapi.New(mustService(t, store, account.Config{}), httpapi.Options{Logger: log, Metrics: m})

	gone, hangUp := context.WithCancel(ctx)
	hangUp()
	req := httptest.NewRequest("POST", "/organizations/reset-password/", strings.NewReader(`{"email":"someone@example.com"}`)).WithContext(gone)
	req.Header.Set("Content-Type", "application/json")
	api.ServeHTTP(httptest.NewRecorder(), req)

	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a client that hung up was logged as an error:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "status=499") {
		t.Errorf("the request line does not say 499:\n%s", logs.String())
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `cruxd_http_requests_abandoned_total{method="POST",route="/organizations/reset-password/{$}"} 1`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("scrape lacks %s:\n%s", want, grepLines(rec.Body.String(), "cruxd_http_requests"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
