package testenv

import (
	"os/exec"
	"testing"
)

// ChromiumPath returns the path of Debian's chromium binary (/usr/bin/chromium
// or chromium on PATH). Without it the test fails in CI and skips elsewhere.
func ChromiumPath(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(tb, "Chromium", "no chromium binary found (install Debian's chromium)")
	return ""
}
