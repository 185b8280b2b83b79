package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

// TestSystemdUnit checks deploy/cruxd.service with systemd's own tools:
// `systemd-analyze verify` finds nothing to say about it, and its exposure
// score stays low. Without systemd-analyze the test skips, except in CI.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("systemd-analyze is required in CI: %v", err)
		}
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "cruxd.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=cruxd", "DynamicUser=yes", "--mode production"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("deploy/cruxd.service lacks %s", want)
		}
	}
	// verify checks that ExecStart names an executable: point it at a
	// real cruxd binary.
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/cruxd", cruxdtest.Binary(t))
	path := filepath.Join(t.TempDir(), "cruxd.service")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The overall exposure level, 0 (locked down) to 10 (unconfined), in
	// tenths: at most 2.0.
	out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0: %v\n%s", err, out)
	}
}
