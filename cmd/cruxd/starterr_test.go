package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/cruxdtest"
)

// TestStartErrors: a --db or --addr that cannot work stops cruxd with one
// line that says what is wrong, and leaves nothing behind.
func TestStartErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	busyDB := filepath.Join(dir, "busy.db")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		want     string
		mustNot  []string
		noFileAt string
	}{
		{"scheme", []string{"--db", "mysql://root:hunter2@db/cruxd", "--addr", busy.Addr().String()}, 2, `unsupported scheme "mysql"`, []string{"hunter2"}, ""},
		{"missing directory", []string{"--db", filepath.Join(dir, "no", "such", "cruxd.db"), "--addr", busy.Addr().String()}, 1, "does not exist", nil, ""},
		{"address taken", []string{"--db", busyDB, "--addr", busy.Addr().String()}, 1, "listen on " + busy.Addr().String(), nil, busyDB},
		{"postgres unreachable", []string{"--db", "postgres://cruxd:hunter2@" + closedAddr + "/cruxd?connect_timeout=5", "--addr", "127.0.0.1:0"}, 1, "cannot reach the PostgreSQL server", []string{"hunter2", "Try again"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr, cruxdtest.Getenv())
			msg := stderr.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("stderr %q lacks %q", msg, tc.want)
			}
			if n := strings.Count(strings.TrimSpace(msg), "\n"); n > 0 {
				t.Errorf("stderr has %d lines, want 1:\n%s", n+1, msg)
			}
			for _, s := range tc.mustNot {
				if strings.Contains(msg, s) {
					t.Errorf("stderr carries %q:\n%s", s, msg)
				}
			}
			if tc.noFileAt != "" {
				if _, err := os.Stat(tc.noFileAt); err == nil {
					t.Errorf("a database was left at %s", tc.noFileAt)
				}
			}
		})
	}
}
