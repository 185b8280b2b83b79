package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/cruxdtest"
)

// TestMailTemplatesChecked: serve refuses to start on a broken mail
// template, naming its file and line, before it opens the database.
func TestMailTemplatesChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "reset.html"), []byte("<p>\n<a href=\"{{.ResetURL}}\">{{.ResetURL</a>\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "cruxd.db")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--mode", "production", "--addr", "127.0.0.1:0", "--db", db, "--public-url", "http://127.0.0.1:8080",
		"--smtp-url", "smtp://127.0.0.1:1025", "--mail-templates", dir}, &stdout, &stderr, cruxdtest.Getenv())
	if code != 2 || !strings.Contains(stderr.String(), filepath.Join(dir, "reset.html")) || !strings.Contains(stderr.String(), "reset.html:2") {
		t.Errorf("exit %d, stderr %q: want 2 naming %s line 2", code, stderr.String(), filepath.Join(dir, "reset.html"))
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the database was created before the templates were checked")
	}
}

// TestSupportOnPages: --support-email and --product-name reach the pages.
func TestSupportOnPages(t *testing.T) {
	t.Parallel()
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"), "--support-email", "help@acme.example", "--product-name", "Acme ID")
	for _, path := range []string{"/forgot-password/", "/reset-password/"} {
		r := p.Do(t, http.MethodGet, path, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `href="mailto:help@acme.example"`) || !strings.Contains(string(r.Body), "Acme ID") {
			t.Errorf("%s: %d, lacks the support address or product name", path, r.Status)
		}
	}
}
