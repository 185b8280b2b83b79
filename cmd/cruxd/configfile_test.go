package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes text to a new file in a temporary directory.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// envOf returns a getenv reading m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestConfigPrecedence: flags win over the environment, which wins over
// the config file, which wins over the defaults; a list takes its values
// from one place only.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "cruxd.yaml", `
# settings are the flags' names
addr: 127.0.0.1:7001
smtp-url: smtp://127.0.0.1:2525
reset-ttl: 30m
auth-ttl: 48h
trusted-proxy: [10.0.0.0/8, 192.168.0.0/16]
limits: true
`)
	secret := writeFile(t, "smtp-url", "smtp://cruxd:s3cret@127.0.0.1:2526\n")
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c *config)
		wantErr string
	}{
		{"file", []string{"--config", file}, nil, func(t *testing.T, c *config) {
			if c.Addr != "127.0.0.1:7001" || c.SMTPURL != "smtp://127.0.0.1:2525" || c.ResetTTL != 30*time.Minute || !c.Limits {
				t.Errorf("file not applied: %+v", c)
			}
			if got := c.TrustedProxies.String(); got != "10.0.0.0/8,192.168.0.0/16" {
				t.Errorf("trusted-proxy %q", got)
			}
			if c.ReadTimeout != 10*time.Second {
				t.Errorf("a default was lost: read-timeout %v", c.ReadTimeout)
			}
		}, ""},
		{"env over file, flag over env", []string{"--config", file, "--reset-ttl", "10m", "--trusted-proxy", "127.0.0.1/32"},
			map[string]string{"CRUXD_ADDR": "127.0.0.1:7002", "CRUXD_RESET_TTL": "20m", "CRUXD_AUTH_TTL": "24h"},
			func(t *testing.T, c *config) {
				if c.Addr != "127.0.0.1:7002" || c.ResetTTL != 10*time.Minute || c.AuthTTL != 24*time.Hour || c.SMTPURL != "smtp://127.0.0.1:2525" {
					t.Errorf("precedence: %+v", c)
				}
				if got := c.TrustedProxies.String(); got != "127.0.0.1/32" {
					t.Errorf("trusted-proxy %q: a list must come from one place", got)
				}
			}, ""},
		{"config from the environment", nil, map[string]string{"CRUXD_CONFIG": file}, func(t *testing.T, c *config) {
			if c.Addr != "127.0.0.1:7001" {
				t.Errorf("CRUXD_CONFIG not read: %+v", c)
			}
		}, ""},
		{"secret from a file", []string{"--config", file}, map[string]string{"CRUXD_SMTP_URL_FILE": secret}, func(t *testing.T, c *config) {
			if c.SMTPURL != "smtp://cruxd:s3cret@127.0.0.1:2526" {
				t.Errorf("smtp-url %q", c.SMTPURL)
			}
		}, ""},
		{"both a value and a file", nil, map[string]string{"CRUXD_SMTP_URL_FILE": secret, "CRUXD_SMTP_URL": "smtp://x:1"}, nil, "both CRUXD_SMTP_URL and CRUXD_SMTP_URL_FILE"},
		{"unknown key", []string{"--config", writeFile(t, "typo.yaml", "addr: 127.0.0.1:1\nsmtp_url: smtp://x:1\n")}, nil, nil, `typo.yaml:2: unknown setting "smtp_url"`},
		{"bad value", []string{"--config", writeFile(t, "bad.yaml", "reset-ttl: soon\n")}, nil, nil, "bad.yaml:1: reset-ttl"},
		{"not a mapping", []string{"--config", writeFile(t, "list.yaml", "- addr\n")}, nil, nil, "want a mapping"},
		{"missing file", []string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, nil, nil, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c config
			err := parseFlags(newFlagSet("serve", &c, serveFlags, io.Discard), tc.args, envOf(tc.env))
			if tc.wantErr != "" {
				if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want a usage error with %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error carries the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, &c)
		})
	}
}

// TestConfigFileAdmin: an admin command reads the same file, ignoring the
// settings that only serve has, and still refuses unknown keys.
func TestConfigFileAdmin(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "cruxd.db")
	file := writeFile(t, "cruxd.yaml", "db: "+db+"\nsmtp-url: smtp://127.0.0.1:2525\nmode: production\n")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "--config", file}, &stdout, &stderr, envOf(nil)); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, stderr.String())
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("migrate did not use the file's db: %v", err)
	}
	bad := writeFile(t, "bad.yaml", "db: "+db+"\nsmpt-url: x\n")
	stderr.Reset()
	if code := run(context.Background(), []string{"user", "list", "--config", bad}, &stdout, &stderr, envOf(nil)); code != 2 || !strings.Contains(stderr.String(), `"smpt-url"`) {
		t.Errorf("unknown key: exit %d, %s", code, stderr.String())
	}
}
