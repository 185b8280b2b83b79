package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestHelpNamesEnvTwins: serve --help lists every flag of serve with its
// CRUXD_* environment twin, and exits 0.
func TestHelpNamesEnvTwins(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--help"}, io.Discard, &out, func(string) string { return "" }); code != 0 {
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
	t.Parallel()
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

// TestHelpIntroducesCommands: cruxd lists its commands with a line each,
// every group and command answers --help with exit 0, and each command's
// usage shows its arguments and an example.
func TestHelpIntroducesCommands(t *testing.T) {
	t.Parallel()
	runOut := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(context.Background(), args, &out, &out, func(string) string { return "" })
		return code, out.String()
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out := runOut(args...)
		if code != 0 {
			t.Errorf("%q: exit %d", args, code)
		}
		for _, d := range docs() {
			if !strings.Contains(out, "  "+d.name+" ") {
				t.Errorf("%q does not list %q:\n%s", args, d.name, out)
			}
		}
	}
	// Every admin command has a doc, and every group's doc a command.
	for group, verbs := range adminVerbs() {
		for verb := range verbs {
			if _, ok := docOf(group + " " + verb); !ok {
				t.Errorf("cruxd %s %s has no doc in docs()", group, verb)
			}
		}
		for _, args := range [][]string{{group, "--help"}, {"help", group}} {
			code, out := runOut(args...)
			if code != 0 || !strings.Contains(out, "usage: cruxd "+group+" COMMAND") {
				t.Errorf("%q: exit %d\n%s", args, code, out)
			}
		}
		if code, _ := runOut(group); code != 2 {
			t.Errorf("cruxd %s without a command: exit %d, want 2", group, code)
		}
	}
	for _, d := range docs() {
		if strings.HasPrefix(d.name, "org ") || strings.HasPrefix(d.name, "user ") {
			if _, ok := adminVerbs()[strings.Fields(d.name)[0]][strings.Fields(d.name)[1]]; !ok {
				t.Errorf("doc %q names no command", d.name)
			}
		}
		if d.name == "help" || d.name == "version" {
			continue
		}
		code, out := runOut(append(strings.Fields(d.name), "--help")...)
		if code != 0 || !strings.Contains(out, "usage: cruxd "+d.name) || !strings.Contains(out, "Example:") || !strings.Contains(out, "(env CRUXD_") {
			t.Errorf("cruxd %s --help: exit %d\n%s", d.name, code, out)
		}
	}
	for _, tc := range []struct{ args, want string }{
		{"help user add", "standard input"},
		{"import --help", "One JSON object a line"},
		{"help backup", "DEST"},
	} {
		if code, out := runOut(strings.Fields(tc.args)...); code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, lacks %q\n%s", tc.args, code, tc.want, out)
		}
	}
	if code, out := runOut("version"); code != 0 || !strings.Contains(out, "cruxd ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"help", "nosuch"}, {"nosuch"}} {
		if code, out := runOut(args...); code != 2 || !strings.Contains(out, "cruxd help") {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
}
