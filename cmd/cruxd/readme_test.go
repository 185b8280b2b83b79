package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/testenv"
)

// readmeBlock returns the first indented code block after the heading of
// README.md, with its four spaces of indent removed.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no heading %q", heading)
	}
	var block []string
	for _, line := range strings.Split(rest, "\n") {
		switch {
		case strings.HasPrefix(line, "    "):
			block = append(block, strings.TrimPrefix(line, "    "))
		case line == "" && len(block) > 0:
			block = append(block, "")
		case len(block) > 0:
			return strings.TrimSpace(strings.Join(block, "\n"))
		case strings.HasPrefix(line, "#"):
			t.Fatalf("README.md: no code block under %q", heading)
		}
	}
	return strings.TrimSpace(strings.Join(block, "\n"))
}

// TestReadmeTryIt runs the README's "Try it" block as a user pastes it,
// against a real sandbox cruxd: only the address changes.
func TestReadmeTryIt(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		if testenv.InCI() {
			t.Fatalf("curl is required in CI: %v", err)
		}
		t.Skip("curl not installed")
	}
	script := readmeBlock(t, "## Try it")
	if !strings.Contains(script, "127.0.0.1:8080") {
		t.Fatalf("the block no longer talks to 127.0.0.1:8080:\n%s", script)
	}
	p := startSandbox(t, t.TempDir()+"/cruxd.db")
	script = strings.ReplaceAll(script, "127.0.0.1:8080", p.Addr)
	// Every curl fails the script on a 4xx or 5xx, as a reader would notice.
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", "curl() { command curl -sS --fail-with-body \"$@\"; echo; }\n"+script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README's Try it failed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 4 || !resetTokenRE.MatchString(lines[0]) {
		t.Fatalf("first line is not a reset token:\n%s", out)
	}
	for _, want := range []string{`"email":"mrbailey@projectthanos.com"`, `"auth_token":"`} {
		if !strings.Contains(strings.ReplaceAll(string(out), " ", ""), want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}
