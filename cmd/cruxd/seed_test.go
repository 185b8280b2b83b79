package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const seedHost = "https://api-sandbox.cruxconnect.com"

// TestSeedCurlExample runs the seed page's curl example, verbatim but for the
// host, against a real cruxd and gets the documented response.
func TestSeedCurlExample(t *testing.T) {
	t.Parallel()
	needTool(t, "curl")
	p := startSandbox(t, t.TempDir()+"/cruxd.db")
	script := strings.TrimSpace(strings.ReplaceAll(example(t, seedPage(t), "bash"), seedHost, p.URL))
	if !strings.Contains(script, p.URL+"/organizations/reset-password/") {
		t.Fatalf("host not replaced in %q", script)
	}
	out, err := exec.Command("bash", "-c", script+" -sS -w '\\n%{http_code}'").Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	body, code, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != "200" {
		t.Fatalf("curl got %s %q", code, body)
	}
	if !resetTokenRE.MatchString(got["reset_token"]) || len(got) != 1 {
		t.Errorf("body %q: want exactly {\"reset_token\": <20 alphanumerics>}", body)
	}
}

// TestSeedNodeExample runs the seed page's Node.js example with the host (and
// so the transport and port) changed to the local cruxd.
func TestSeedNodeExample(t *testing.T) {
	t.Parallel()
	node := needTool(t, "node")
	p := startSandbox(t, t.TempDir()+"/cruxd.db")
	host, port, _ := strings.Cut(p.Addr, ":")
	script := example(t, seedPage(t), "javascript")
	for _, r := range [][2]string{
		{"require('https')", "require('http')"},
		{"'api-sandbox.cruxconnect.com'", "'" + host + "'"},
		{"port: '443'", "port: '" + port + "'"},
	} {
		if !strings.Contains(script, r[0]) {
			t.Fatalf("seed node example lacks %q", r[0])
		}
		script = strings.ReplaceAll(script, r[0], r[1])
	}
	out, err := exec.Command(node, "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "STATUS: 200") || !strings.Contains(s, "ERROR: null") {
		t.Fatalf("node example output:\n%s", s)
	}
	_, body, _ := strings.Cut(s, "BODY: ")
	var got map[string]string
	if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &got); err != nil || !resetTokenRE.MatchString(got["reset_token"]) {
		t.Errorf("node example body %q", body)
	}
}

// TestSeedHTTPieRequest sends what the seed's HTTPie example sends (its
// Accept header, the given Content-Type and a JSON object body).
func TestSeedHTTPieRequest(t *testing.T) {
	t.Parallel()
	p := startSandbox(t, t.TempDir()+"/cruxd.db")
	r := p.Do(t, "POST", "/organizations/reset-password/", `{"email": "mrbailey@projectthanos.com"}`,
		"Content-Type", "application/json; charset=utf-8", "Accept", "application/json, */*;q=0.5", "User-Agent", "HTTPie/3.2.2")
	var got map[string]string
	r.JSON(t, &got)
	if r.Status != 200 || !resetTokenRE.MatchString(got["reset_token"]) {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
}
