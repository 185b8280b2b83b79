// Package cruxdtest runs real cruxd processes for end-to-end tests: it
// builds the binary once per test process and talks to it over real HTTP.
package cruxdtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Main runs the tests of a package that uses Binary or Start and removes
// the built binary afterwards. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// Binary returns the path of a cruxd binary built from this module once per
// test process (with the race detector when the tests run with it).
func Binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "cruxdtest-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "cruxd")
		args := []string{"build", "-o", build.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/cruxd/cruxd/cmd/cruxd")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build cruxd: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.path
}

// Process is a running cruxd: a child process (Start), or cruxd's run
// function on a goroutine of the test process (Run).
type Process struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT
	// MetricsURL is http://HOST:PORT/metrics when the process serves
	// metrics (--metrics-addr), else "".
	MetricsURL string
	Cmd        *exec.Cmd // nil when cruxd runs in the test process

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	tb     testing.TB

	cancel context.CancelFunc // in the test process: SIGTERM's stand-in
	code   int                // in the test process: run's exit code, once done
}

// Start runs cruxd with args (plus --addr 127.0.0.1:0 unless args set
// --addr) and env (KEY=VALUE, added to a clean environment with PATH and
// HOME), and returns once it listens. The process is killed in cleanup.
func Start(tb testing.TB, args []string, env ...string) *Process {
	tb.Helper()
	args = withAddr(args)
	cmd := exec.Command(Binary(tb), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p := &Process{Cmd: cmd, done: make(chan struct{}), tb: tb}
	cmd.Stderr = &lockedWriter{p: p, buf: &p.stderr}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Kill() })
	p.awaitListening(tb, outPipe, func() { cmd.Wait() })
	return p
}

// RunFunc is cmd/cruxd's run: one command with its arguments, outputs and
// environment, returning the exit code. Its context stands for SIGTERM.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int

// Run serves like Start, but runs cruxd's run in the test process: no
// binary to build or start, and the race detector and coverage see the
// server's code. Use it wherever a process boundary adds nothing; crashes,
// signals, SIGKILL and several processes on one database need Start. run's
// getenv is Getenv(env...). In cleanup run's context is cancelled and run
// must return.
func Run(tb testing.TB, run RunFunc, args []string, env ...string) *Process {
	tb.Helper()
	args = withAddr(args)
	getenv := Getenv(env...)
	ctx, cancel := context.WithCancel(context.Background())
	p := &Process{done: make(chan struct{}), tb: tb, cancel: cancel}
	stderr := &lockedWriter{p: p, buf: &p.stderr}
	outR, outW := io.Pipe()
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		code := run(ctx, args, outW, stderr, getenv)
		p.mu.Lock()
		p.code = code
		p.mu.Unlock()
		outW.Close()
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(60 * time.Second):
			tb.Errorf("cruxd's run did not return within 60s of its context's end\nstderr:\n%s", p.Stderr())
		}
	})
	p.awaitListening(tb, outR, func() { <-returned })
	return p
}

// Getenv returns the getenv of a cruxd run in the test process: env
// (KEY=VALUE) and nothing else, except that GOGC and GOMEMLIMIT read as set
// (to their values in the test process, else to Go's defaults), so that
// serve leaves the garbage collector of the test process alone.
func Getenv(env ...string) func(string) string {
	vars := map[string]string{"GOGC": "100", "GOMEMLIMIT": "off"}
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v := os.Getenv(k); v != "" {
			vars[k] = v
		}
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return func(k string) string { return vars[k] }
}

func withAddr(args []string) []string {
	if !hasFlag(args, "--addr") {
		args = append(args, "--addr", "127.0.0.1:0")
	}
	return args
}

// awaitListening reads cruxd's stdout until its banner's last line gives
// the address it listens on, keeps reading it into p.stdout, and closes
// p.done once stdout ended and wait returned.
func (p *Process) awaitListening(tb testing.TB, stdout io.Reader, wait func()) {
	tb.Helper()
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stdout.WriteString(line + "\n")
			p.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "metrics on "); ok {
				p.MetricsURL = u // printed before the line Start waits for
			}
			if a, ok := strings.CutPrefix(line, "listening on http://"); ok {
				addrc <- a
			}
		}
		io.Copy(io.Discard, stdout) // a line too long for the scanner must not block cruxd
		wait()
		close(p.done)
	}()
	select {
	case a := <-addrc:
		p.Addr, p.URL = a, "http://"+a
	case <-p.done:
		tb.Fatalf("cruxd exited before listening: exit code %d\nstdout:\n%s\nstderr:\n%s", p.exitCode(), p.Stdout(), p.Stderr())
	case <-time.After(60 * time.Second):
		tb.Fatalf("cruxd did not listen within 60s\nstderr:\n%s", p.Stderr())
	}
}

// exitCode is the exit code of a cruxd that ended.
func (p *Process) exitCode() int {
	if p.Cmd != nil {
		return p.Cmd.ProcessState.ExitCode()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

type lockedWriter struct {
	p   *Process
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.buf.Write(b)
}

// Stdout returns what the process printed on stdout so far.
func (p *Process) Stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }

// Stderr returns the process's log so far.
func (p *Process) Stderr() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// Signal sends sig to the process. In the test process only SIGTERM and
// SIGINT have a stand-in (the end of run's context); any other signal
// fails the test.
func (p *Process) Signal(sig os.Signal) {
	if p.Cmd != nil {
		p.Cmd.Process.Signal(sig)
		return
	}
	if sig != syscall.SIGTERM && sig != os.Interrupt {
		p.tb.Fatalf("cruxd runs in the test process: it cannot take %v (use cruxdtest.Start)", sig)
	}
	p.cancel()
}

// Wait waits for the process to exit (up to timeout) and returns its exit
// code.
func (p *Process) Wait(tb testing.TB, timeout time.Duration) int {
	tb.Helper()
	select {
	case <-p.done:
		return p.exitCode()
	case <-time.After(timeout):
		tb.Fatalf("cruxd did not exit within %v", timeout)
		return -1
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (p *Process) Stop(tb testing.TB) {
	tb.Helper()
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(tb, 30*time.Second); code != 0 {
		tb.Errorf("cruxd exited with %d\nstderr:\n%s", code, p.Stderr())
	}
}

// Kill ends the process at once (SIGKILL) and waits for it. Only a child
// process can be killed: in the test process it fails the test, since a
// graceful stop passed off as a crash would prove nothing.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	if p.Cmd == nil {
		p.tb.Fatalf("cruxd runs in the test process: it cannot be killed (use cruxdtest.Start)")
	}
	p.Cmd.Process.Kill()
	<-p.done
}

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r *Response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("response %d is not JSON: %v\n%s", r.Status, err, r.Body)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	r.JSON(tb, &m)
	return m
}

// Client is the HTTP client tests use: no redirects followed, bounded time.
var Client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Do sends one request to the process. body is sent as is when it is a
// string or []byte, else encoded as JSON; a JSON body gets Content-Type
// application/json unless header sets one. header alternates names and
// values.
func (p *Process) Do(tb testing.TB, method, path string, body any, header ...string) *Response {
	tb.Helper()
	return Do(tb, method, p.URL+path, body, header...)
}

// Do sends one request to url; see Process.Do.
func Do(tb testing.TB, method, url string, body any, header ...string) *Response {
	tb.Helper()
	var rd io.Reader
	isJSON := false
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd, isJSON = bytes.NewReader(enc), true
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := Client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, url, err)
	}
	// Every answer must be what the OpenAPI document says.
	if err := ValidateResponse(req, resp.StatusCode, resp.Header, b); err != nil && !errors.Is(err, ErrUndocumented) {
		tb.Errorf("%s %s: %d response does not match the OpenAPI document: %v\n%s", method, req.URL.Path, resp.StatusCode, err, b)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
