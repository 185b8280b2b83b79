package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The generator's check: each run also drives the bare server with wrk
// (`wrk -t2 -cN`, the same request, alternating with the generator's own
// attack on it) and reports the generator's bare throughput as a share of
// wrk's. Below 90% the generator, not the servers, sets the figures.

// generatorCheck is the least share of wrk's throughput on the bare server
// that the generator must reach for its ratios to stand.
const generatorCheck = 0.90

var wrkRequests = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
var wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)

// wrkScript returns a wrk Lua script that sends r, the same request every
// time: wrk's fastest mode, which runs no Lua per request.
func wrkScript(r *hreq) string {
	var b strings.Builder
	q := func(s string) string { return "[==[" + s + "]==]" }
	fmt.Fprintf(&b, "wrk.method = %s\nwrk.path = %s\n", q(r.method), q(r.path))
	if name, value, ok := strings.Cut(r.header, ":"); ok {
		fmt.Fprintf(&b, "wrk.headers[%s] = %s\n", q(name), q(strings.TrimSpace(value)))
	}
	if r.body != nil {
		fmt.Fprintf(&b, "wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = %s\n", q(string(r.body)))
	}
	return b.String()
}

// runWrk runs wrk with 2 threads and conns connections on the bare server
// for the run's duration, sending one request of e, and returns its req/s.
func (b *bench) runWrk(e *endpoint, conns int) (float64, error) {
	path, err := exec.LookPath(b.o.Wrk)
	if err != nil {
		return 0, fmt.Errorf("the generator's check needs wrk: %w", err)
	}
	var r hreq
	if err := e.targeter(b.bareProc.url, true).next(&r); err != nil {
		return 0, err
	}
	script := filepath.Join(b.dir, "wrk-"+e.key+".lua")
	if err := os.WriteFile(script, []byte(wrkScript(&r)), 0o644); err != nil {
		return 0, err
	}
	secs := max(int(b.o.Duration.Round(time.Second).Seconds()), 1)
	cmd := exec.Command(path, "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", secs), "--timeout", "10s",
		"-s", script, b.bareProc.url+r.path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	m := wrkRequests.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no Requests/sec in wrk's output: %s", out)
	}
	if n := wrkNon2xx.FindSubmatch(out); n != nil {
		return 0, fmt.Errorf("wrk got %s answers that were not 2xx from the bare server", n[1])
	}
	rps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return 0, errors.New("wrk's Requests/sec: " + err.Error())
	}
	return rps, nil
}
