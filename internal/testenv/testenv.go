// Package testenv gives tests of other packages real external services on
// 127.0.0.1: a PostgreSQL database, a Mailpit SMTP server with its HTTP API,
// and the path of a Chromium binary.
//
// With CI=true nothing skips: a missing service fails the test. Outside CI a
// missing service prints one loud line per test process and skips.
//
// Readiness is always decided by polling a real condition (a connection, an
// HTTP answer) against a deadline, never by sleeping.
package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Main runs the tests of a package and then stops the PostgreSQL cluster that
// PostgresDSN may have started, removing its data directory. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// It is optional: without it the shared cluster still dies with the test
// process, and its directory is removed by a later run.
func Main(m *testing.M) {
	code := m.Run()
	stopSharedPostgres()
	os.Exit(code)
}

// InCI reports whether the environment variable CI says this is a CI run, in
// which no service may be skipped.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// skipped remembers which services already printed their loud line.
var skipped sync.Map

// unavailable fails the test in CI and skips it elsewhere, printing one loud
// line per service and process so that a skip is never silent.
func unavailable(tb testing.TB, service, reason string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("%s is required in CI (CI=true) but unavailable: %s", service, reason)
	}
	line := fmt.Sprintf("*** SKIPPING %s tests: %s ***", service, reason)
	if _, done := skipped.LoadOrStore(service, true); !done {
		fmt.Fprintln(os.Stderr, line)
	}
	tb.Skip(line)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Callers retry with another port if a server then fails to bind it.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// errExited reports that a server process ended while it was awaited.
var errExited = errors.New("process exited")

// pollInterval is how often a readiness condition is checked.
const pollInterval = 20 * time.Millisecond

// waitUntil polls check until it returns nil, the process behind exited ends
// (exited may be nil), or timeout passes. It returns the last check error.
func waitUntil(timeout time.Duration, exited <-chan struct{}, check func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%w (last check: %v)", errExited, err)
		case <-deadline.C:
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// portRefuses returns nil once nothing accepts connections on addr.
func portRefuses(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("%s still accepts connections", addr)
}

// portAccepts returns nil once something accepts connections on addr.
func portAccepts(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// tail returns the last n bytes of the file at path, for error messages.
func tail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}
