package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

// metric returns the value of the series (name and labels exactly as
// exposed, e.g. `x_total{a="b"}`) in a scrape, or -1 if it is absent.
func metric(body, series string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// scrape reads the metrics of p, which must run with --metrics-addr.
func scrape(t *testing.T, p *cruxdtest.Process) string {
	t.Helper()
	if p.MetricsURL == "" {
		t.Fatal("cruxd serves no metrics: start it with --metrics-addr")
	}
	r := cruxdtest.Do(t, "GET", p.MetricsURL, nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	return string(r.Body)
}

// waitMetric scrapes until cond holds for the series, or fails after 30s.
func waitMetric(t *testing.T, p *cruxdtest.Process, series string, cond func(float64) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := scrape(t, p)
		if cond(metric(body, series)) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v after 30s\n%s", series, metric(body, series), p.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func wantMetric(t *testing.T, body, series string, want float64) {
	t.Helper()
	if got := metric(body, series); got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

// noSecrets fails if text holds any of secrets.
func noSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds a secret (%q…)", what, s[:min(4, len(s))])
		}
	}
}

// TestMetrics runs a flow against a real cruxd, scrapes /metrics and checks
// the request, reset, login and hash-queue metrics, and that no label holds
// an address, a token, a uuid from a path or an IP.
func TestMetrics(t *testing.T) {
	t.Parallel()
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"), "--limits", "--limit-login-ip", "2", "--metrics-addr", "127.0.0.1:0")
	token := resetToken(t, p, roy)
	p.Do(t, "GET", "/organizations/complete-password/?token="+token, nil)
	if r := p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": token}); r.Status != 204 {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	s := login(t, p, roy, newPW)
	auth, uuid := s["auth_token"].(string), s["user_uuid"].(string)
	if r := p.Do(t, "GET", "/organizations/users/detail/"+uuid+"/", nil, "Authorization", "Token "+auth); r.Status != 200 {
		t.Fatalf("get user: %d", r.Status)
	}
	for range 2 {
		p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": "wrong password 1"})
	}
	if r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": newPW}); r.Status != 429 {
		t.Fatalf("third login after two failures: %d, want 429", r.Status)
	}
	p.Do(t, "FROB", "/organizations/user-login/", nil)
	p.Do(t, "GET", "/no/such/"+token+"/path", nil)

	body := scrape(t, p)
	wantMetric(t, body, `cruxd_resets_total{event="requested"}`, 1)
	wantMetric(t, body, `cruxd_resets_total{event="completed"}`, 1)
	wantMetric(t, body, `cruxd_resets_total{event="mailed"}`, 0)
	wantMetric(t, body, `cruxd_logins_total{result="ok"}`, 1)
	wantMetric(t, body, `cruxd_logins_total{result="failed"}`, 2)
	wantMetric(t, body, `cruxd_throttled_total{limit="login-fail-ip"}`, 1)
	wantMetric(t, body, `cruxd_http_requests_total{method="POST",route="/organizations/complete-password/{$}",status="204"}`, 1)
	wantMetric(t, body, `cruxd_http_requests_total{method="GET",route="/organizations/users/detail/{uuid}/{$}",status="200"}`, 1)
	wantMetric(t, body, `cruxd_http_requests_total{method="POST",route="/organizations/user-login/{$}",status="401"}`, 2)
	wantMetric(t, body, `cruxd_http_requests_total{method="POST",route="/organizations/user-login/{$}",status="429"}`, 1)
	wantMetric(t, body, `cruxd_http_requests_total{method="OTHER",route="/organizations/user-login/{$}",status="405"}`, 1)
	wantMetric(t, body, `cruxd_http_requests_total{method="GET",route="/",status="404"}`, 1)
	wantMetric(t, body, `cruxd_http_request_duration_seconds_count{method="POST",route="/organizations/user-login/{$}"}`, 4)
	wantMetric(t, body, `cruxd_http_requests_in_flight`, 0) // the scrape is not an API request
	wantMetric(t, body, `cruxd_store_stats_up`, 1)
	wantMetric(t, body, `cruxd_mails_pending`, 0)
	wantMetric(t, body, `cruxd_mail_oldest_pending_age_seconds`, 0)
	wantMetric(t, body, `cruxd_reset_tokens_expired`, 0)
	wantMetric(t, body, `cruxd_sqlite_wal_pinned`, 0)
	if metric(body, `cruxd_sqlite_wal_bytes`) <= 0 {
		t.Error("cruxd_sqlite_wal_bytes is not positive after writes")
	}
	// One hash for the new password, one verification per login that was
	// not throttled.
	wantMetric(t, body, `cruxd_hash_queue_wait_seconds_count`, 4)
	if metric(body, `go_goroutines`) <= 0 || metric(body, `process_start_time_seconds`) <= 0 {
		t.Error("no Go or process metrics")
	}
	noSecrets(t, "/metrics", body, token, auth, uuid, roy, "cruxsupplier", "127.0.0.1", newPW, royOldPW, "wrong password")
	// Every label value is from a small vocabulary: patterns, methods,
	// codes, enumerations.
	labels := regexp.MustCompile(`\{([^}]*(?:\{[^}]*\}[^}]*)*)\}\s`)
	value := regexp.MustCompile(`^[a-z_]+="([A-Za-z0-9_./{}$+\-]*)"$`)
	for _, m := range labels.FindAllStringSubmatch(body, -1) {
		for _, kv := range strings.Split(m[1], `",`) {
			if !strings.HasSuffix(kv, `"`) {
				kv += `"`
			}
			if !value.MatchString(kv) || strings.Contains(kv, "@") {
				t.Errorf("label %s is outside the expected vocabulary", kv)
			}
		}
	}
}

// TestMetricsListener: /metrics is never on the API's listener, where
// anyone could read the mail outcomes of their own reset requests; it is
// served on --metrics-addr (or CRUXD_METRICS_ADDR), and production without
// it serves none.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"), "--metrics-addr", "127.0.0.1:0")
	if r := p.Do(t, "GET", "/metrics", nil); r.Status != 404 {
		t.Errorf("GET /metrics on the API listener: %d, want 404", r.Status)
	}
	if !strings.HasPrefix(p.MetricsURL, "http://127.0.0.1:") || strings.HasPrefix(p.MetricsURL, p.URL+"/") {
		t.Fatalf("metrics served at %q, want a loopback listener apart from %s", p.MetricsURL, p.URL)
	}
	if body := scrape(t, p); metric(body, `cruxd_mails_total{kind="reset",outcome="dropped"}`) != 0 {
		t.Errorf("the metrics listener lacks the mail series:\n%s", body)
	}

	mp := testenv.StartMailpit(t)
	db := newProdDB(t)
	for _, tc := range []struct {
		name string
		env  []string
		want bool
	}{
		{"production without --metrics-addr", nil, false},
		{"production with CRUXD_METRICS_ADDR", []string{"CRUXD_METRICS_ADDR=127.0.0.1:0"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := serve(t, []string{"--mode", "production", "--db", db, "--public-url", prodPublicURL,
				"--smtp-url", mp.SMTPURL()}, tc.env...)
			defer p.Stop(t)
			if r := p.Do(t, "GET", "/metrics", nil); r.Status != 404 {
				t.Errorf("GET /metrics on the API listener: %d, want 404", r.Status)
			}
			if got := p.MetricsURL != ""; got != tc.want {
				t.Fatalf("metrics served: %v, want %v (banner:\n%s)", got, tc.want, p.Stdout())
			}
			if tc.want {
				scrape(t, p)
			}
		})
	}

	// Not on a public address, by mistake or otherwise.
	cmd := exec.Command(cruxdtest.Binary(t), "--db", filepath.Join(t.TempDir(), "cruxd.db"), "--addr", "127.0.0.1:0",
		"--metrics-addr", "0.0.0.0:0")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "--metrics-addr must be a loopback host:port") {
		t.Errorf("--metrics-addr 0.0.0.0:0: exit %d, %v\n%s; want 2 and a line on loopback", cmd.ProcessState.ExitCode(), err, out)
	}
}

// TestMetricsMail checks the mail metrics against a real SMTP server
// (Mailpit) and against one that refuses connections: sent and failed
// deliveries, resets mailed, the pending count and the oldest pending age;
// and that the audit trail records the mailing.
func TestMetricsMail(t *testing.T) {
	t.Parallel()
	mp := testenv.StartMailpit(t)
	db := filepath.Join(t.TempDir(), "cruxd.db")
	p := startSandbox(t, db, "--smtp-url", mp.SMTPURL(), "--public-url", "http://127.0.0.1:9", "--metrics-addr", "127.0.0.1:0")
	resetToken(t, p, roy)
	body := waitMetric(t, p, `cruxd_mails_total{kind="reset",outcome="sent"}`, func(v float64) bool { return v == 1 })
	wantMetric(t, body, `cruxd_resets_total{event="mailed"}`, 1)
	wantMetric(t, body, `cruxd_mails_pending`, 0)
	p.Stop(t)
	if trail := mustCLI(t, nil, "audit", "--db", db, "--email", roy); !strings.Contains(trail, "reset.mailed") {
		t.Errorf("audit trail lacks reset.mailed:\n%s", trail)
	}

	down := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"),
		"--smtp-url", "smtp://127.0.0.1:1", "--public-url", "http://127.0.0.1:9", "--mail-retry-min", "1h", "--metrics-addr", "127.0.0.1:0")
	resetToken(t, down, roy)
	body = waitMetric(t, down, `cruxd_mails_total{kind="reset",outcome="failed"}`, func(v float64) bool { return v >= 1 })
	wantMetric(t, body, `cruxd_mails_pending`, 1)
	wantMetric(t, body, `cruxd_resets_total{event="mailed"}`, 0)
	if age := metric(body, `cruxd_mail_oldest_pending_age_seconds`); age <= 0 || age > 60 {
		t.Errorf("oldest pending age %v, want a few seconds", age)
	}
}

// logFlow runs the flow of TestLogsNoSecrets and returns every secret it
// used and how many requests it made.
func logFlow(t *testing.T, p *cruxdtest.Process) (secrets []string, requests int) {
	do := func(method, path string, body any, header ...string) *cruxdtest.Response {
		requests++
		return p.Do(t, method, path, body, header...)
	}
	const weak, wrong = "weak7pw", "not-the-password-42" // weak: shorter than any policy allows
	r := do("POST", "/organizations/reset-password/", map[string]string{"email": roy})
	token := r.Map(t)["reset_token"].(string)
	do("GET", "/organizations/complete-password/?token="+token, nil)
	do("GET", "/organizations/complete-password/", map[string]string{"token": token})
	do("POST", "/organizations/complete-password/", map[string]string{"password": weak, "token": token})
	if r := do("POST", "/organizations/complete-password/?token="+token, map[string]string{"password": newPW, "token": token}); r.Status != 204 {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	do("GET", "/organizations/complete-password/?token="+token, nil)
	bogus := "Zq7Zq7Zq7Zq7Zq7Zq7Zq"
	do("POST", "/organizations/revoke-password-reset/", map[string]string{"token": bogus})
	s := do("POST", "/organizations/user-login/", map[string]string{"username": roy, "password": newPW}).Map(t)
	auth, uuid := s["auth_token"].(string), s["user_uuid"].(string)
	do("POST", "/organizations/user-login/", map[string]string{"username": roy, "password": wrong})
	do("GET", "/organizations/users/detail/"+uuid+"/", nil, "Authorization", "Token "+auth, "X-Request-Id", "logs-test-req-1")
	fakeAuth := strings.Repeat("ab12", 10)
	do("GET", "/organizations/users/detail/"+uuid+"/", nil, "Authorization", "Token "+fakeAuth)
	// Bad requests carrying secrets in the body, the query and the path.
	body2 := "token=" + bogus + "&password=" + wrong
	do("POST", "/organizations/complete-password/", body2, "Content-Type", "text/plain")
	do("POST", "/organizations/user-login/", `{"username": "`+roy+`", "password": "`+wrong+`"`, "Content-Type", "application/json")
	do("POST", "/organizations/complete-password/", `{"token": "`+bogus+`", "password": ["`+wrong+`"]}`, "Content-Type", "application/json")
	do("POST", "/organizations/user-login/", `{"password": "`+wrong+`", "pad": "`+strings.Repeat("x", 70<<10)+`"}`, "Content-Type", "application/json")
	do("GET", "/organizations/complete-password/"+bogus+"/?password="+wrong, nil)
	do("PUT", "/organizations/complete-password/?token="+bogus, nil)
	do("GET", "/organizations/complete-password/?token="+bogus+"%00%0a%22", nil)
	return []string{token, bogus, auth, fakeAuth, newPW, weak, wrong, royOldPW}, requests
}

// TestLogsNoSecrets runs a whole flow, with bad requests carrying tokens
// and passwords in bodies, queries and paths, against a real cruxd in each
// log format. Every line is one record of that format; there is one request
// line per request with method, route, status, duration, ip and request_id;
// no line holds a token, a password or a query string.
func TestLogsNoSecrets(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			p := startSandbox(t, filepath.Join(t.TempDir(), "cruxd.db"), "--log-format", format)
			secrets, requests := logFlow(t, p)
			p.Stop(t)
			log := p.Stderr()
			noSecrets(t, "the log", log, secrets...)
			if strings.Contains(log, "?token") || strings.Contains(log, "token=") || strings.Contains(log, "password=") {
				t.Error("the log holds a query string")
			}
			reqLines, sawID := 0, false
			sc := bufio.NewScanner(strings.NewReader(log))
			for sc.Scan() {
				line := sc.Text()
				fields := map[string]any{}
				if format == "json" {
					if err := json.Unmarshal([]byte(line), &fields); err != nil {
						t.Fatalf("log line is not one JSON object: %v\n%s", err, line)
					}
				} else {
					for _, m := range regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`).FindAllStringSubmatch(line, -1) {
						fields[m[1]] = strings.Trim(m[2], `"`)
					}
					if _, ok := fields["level"]; !ok || !strings.HasPrefix(line, "time=") {
						t.Fatalf("log line is not a slog text record:\n%s", line)
					}
				}
				if fields["msg"] != "request" {
					continue
				}
				reqLines++
				for _, k := range []string{"method", "route", "status", "duration", "ip", "request_id"} {
					if _, ok := fields[k]; !ok {
						t.Errorf("request line lacks %s: %s", k, line)
					}
				}
				if fields["request_id"] == "logs-test-req-1" {
					sawID = true
				}
			}
			if reqLines != requests {
				t.Errorf("%d request lines for %d requests", reqLines, requests)
			}
			if !sawID {
				t.Error("the caller's X-Request-Id is not in the log")
			}
		})
	}
}

// TestAuditCommand runs a flow against a real cruxd that mails its reset
// links, and prints the trail with cruxd audit: resets requested, mailed,
// revoked (through the mail's cancel link), completed; logins that succeeded
// and failed, with IP and user agent, even for an address no account uses;
// and the trail outlives the token rows a purge removes.
func TestAuditCommand(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "cruxd.db")
	mp := testenv.StartMailpit(t)
	p := startSandbox(t, db, "--public-url", prodPublicURL, "--smtp-url", mp.SMTPURL(),
		"--mail-from", "Crux Accounts <no-reply@example.com>")
	ua := []string{"User-Agent", "audit-test-agent/1.0"}
	// Each step waits for the mail's audit event, logged before "mail
	// sent", so that the trail's order is the steps' order.
	sent := func(n int) {
		t.Helper()
		waitOutcomes(t, p, fmt.Sprint(n, " mails sent"), func(o map[string]int) bool { return o["sent"] >= n })
	}
	resetToken(t, p, roy)
	sent(1)
	_, d := mailedToken(t, mp, roy, 1)
	p.Do(t, "POST", "/organizations/revoke-password-reset/", map[string]string{"token": mailedCancelToken(t, d)}, ua...)
	tok := resetToken(t, p, roy)
	sent(2)
	p.Do(t, "POST", "/organizations/complete-password/", map[string]string{"password": newPW, "token": tok}, ua...)
	p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": newPW}, ua...)
	p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": royOldPW}, ua...)
	p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": "stranger@nowhere.example", "password": "x"}, ua...)
	p.Stop(t)

	check := func(trail string) {
		t.Helper()
		var actions []string
		for _, l := range strings.Split(trail, "\n")[1:] {
			if f := strings.Fields(l); len(f) > 1 {
				actions = append(actions, f[1])
			}
		}
		want := []string{"reset.requested", "reset.mailed", "reset.revoked", "reset.requested", "reset.mailed", "reset.completed",
			"login.succeeded", "login.failed"}
		if strings.Join(actions, " ") != strings.Join(want, " ") {
			t.Errorf("actions %v, want %v\n%s", actions, want, trail)
		}
		if !strings.Contains(trail, "127.0.0.1") || !strings.Contains(trail, "audit-test-agent/1.0") ||
			!strings.HasPrefix(trail, "TIME ") {
			t.Errorf("trail lacks the time header, IP or user agent:\n%s", trail)
		}
		noSecrets(t, "the trail", trail, tok, newPW, royOldPW)
	}
	check(mustCLI(t, nil, "audit", "--db", db, "--email", " RBreslawski@CruxSupplier.com "))
	if trail := mustCLI(t, nil, "audit", "--db", db, "--email", "stranger@nowhere.example"); !strings.Contains(trail, "login.failed") {
		t.Errorf("trail of an address without account:\n%s", trail)
	}
	if out := mustCLI(t, nil, "audit", "--db", db, "--email", "nobody@nowhere.example"); !strings.Contains(out, "no audit events") {
		t.Errorf("trail of an unknown address:\n%s", out)
	}

	// Two days later the purge removes the token rows; the trail stays.
	sqlExec(t, db, `UPDATE reset_tokens SET created_at = created_at - ?1, expires_at = expires_at - ?1,
		used_at = used_at - ?1, revoked_at = revoked_at - ?1`, int64(48*time.Hour))
	if out := mustCLI(t, nil, "purge", "--db", db, "--retention", "24h"); !strings.Contains(out, "purged 4 spent or expired reset tokens") {
		t.Errorf("purge:\n%s", out)
	}
	check(mustCLI(t, nil, "audit", "--db", db, "--email", roy))
}

// TestHealthz checks /healthz and /readyz on a real process, and /readyz
// going 503 when the database loses its recorded migrations.
func TestHealthz(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "cruxd.db")
	p := startSandbox(t, db)
	for _, path := range []string{"/healthz", "/readyz", "/healthz/"} {
		r := p.Do(t, "GET", path, nil)
		if m := r.Map(t); r.Status != 200 || m["status"] != "ok" {
			t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := p.Do(t, "POST", "/healthz", nil); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /healthz: %d Allow %q", r.Status, r.Header.Get("Allow"))
	}
	sqlExec(t, db, `DELETE FROM schema_migrations`)
	if r := p.Do(t, "GET", "/readyz", nil); r.Status != http.StatusServiceUnavailable || r.Map(t)["status"] != "unavailable" {
		t.Errorf("readyz without migrations: %d %s", r.Status, r.Body)
	}
	if r := p.Do(t, "GET", "/healthz", nil); r.Status != 200 {
		t.Errorf("healthz without migrations: %d", r.Status)
	}
}

// TestGCSettings: serve runs with GOGC=400 and a 128 MiB soft memory limit
// unless the environment sets GOGC or GOMEMLIMIT, which then win.
func TestGCSettings(t *testing.T) {
	t.Parallel()
	// Processes: the settings are the runtime's, one per process.
	p := cruxdtest.Start(t, []string{"--db", filepath.Join(t.TempDir(), "cruxd.db"), "--metrics-addr", "127.0.0.1:0"})
	body := scrape(t, p)
	wantMetric(t, body, "go_gc_gogc_percent", 400)
	wantMetric(t, body, "go_gc_gomemlimit_bytes", 128<<20)

	p = cruxdtest.Start(t, []string{"--db", filepath.Join(t.TempDir(), "cruxd.db"), "--metrics-addr", "127.0.0.1:0"}, "GOGC=150", "GOMEMLIMIT=1GiB")
	body = scrape(t, p)
	wantMetric(t, body, "go_gc_gogc_percent", 150)
	wantMetric(t, body, "go_gc_gomemlimit_bytes", 1<<30)
}
