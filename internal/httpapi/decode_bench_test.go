package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// Request decoding and whole handlers, for regressions in the HTTP layer's
// share of each call. Run with
//
//	go test -run '^$' -bench . ./internal/httpapi

var benchResetBody = []byte(`{"email": "rbreslawski@cruxsupplier.com"}`)

// BenchmarkDecodeBody is the decoding of a Reset Password body.
func BenchmarkDecodeBody(b *testing.B) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/organizations/reset-password/", nil)
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	br := bytes.NewReader(benchResetBody)
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(benchResetBody)
		r.Body = io.NopCloser(br)
		body, err := decodeBody(w, r)
		if err != nil {
			b.Fatal(err)
		}
		fe := fieldErrors{}
		if body.str(fe, "email") == "" {
			b.Fatal(fe)
		}
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so handler
// benchmarks measure the handler and not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// benchServer returns the API on a sandbox service on a fresh SQLite file
// with the demo data, and a live reset token of the demo supplier user.
func benchServer(b *testing.B) (*Server, string) {
	b.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "cruxd.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	hasher, err := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		b.Fatal(err)
	}
	svc := account.NewService(store, hasher, password.Policy{}, account.Config{}, nil)
	if _, err := svc.SeedSandbox(ctx); err != nil {
		b.Fatal(err)
	}
	tok, err := svc.RequestReset(ctx, account.DemoUsers[1].Email, account.Meta{})
	if err != nil {
		b.Fatal(err)
	}
	return New(svc, Options{}), tok
}

// BenchmarkServeValidate is a whole Validate call through ServeHTTP: route,
// request id, log line, store read, JSON answer.
func BenchmarkServeValidate(b *testing.B) {
	s, tok := benchServer(b)
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		s.ServeHTTP(w, httptest.NewRequest("GET", "/organizations/complete-password/?token="+tok, nil))
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatal(w.status)
		}
	}
}
