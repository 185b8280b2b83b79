package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestHelpNamesEnvTwins: --help lists every flag of serve with its CRUXD_*
// environment twin, and exits 0.
func TestHelpNamesEnvTwins(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, io.Discard, &out, func(string) string { return "" }); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	var c config
	fs := newFlagSet("serve", &c, serveFlags, io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		want := "--" + f.Name + " "
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), want) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, "(env "+envName(f.Name)) || len(f.Usage) < 5 {
			t.Errorf("--help lacks a line for --%s with env %s: %q", f.Name, envName(f.Name), line)
		}
	})
}

// TestEnvTwinsApply: an environment twin sets its flag, and a flag on the
// command line wins over it.
func TestEnvTwinsApply(t *testing.T) {
	env := map[string]string{"CRUXD_ADDR": "127.0.0.1:9999", "CRUXD_DB": "from-env.db"}
	var c config
	fs := newFlagSet("serve", &c, serveFlags, io.Discard)
	if err := parseFlags(fs, []string{"--db", "from-flag.db"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.DB != "from-flag.db" {
		t.Errorf("addr %q db %q: want the env's addr and the flag's db", c.Addr, c.DB)
	}
}
