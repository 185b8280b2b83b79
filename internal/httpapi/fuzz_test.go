package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// The fuzz targets send arbitrary requests through the real router, on a
// real SQLite store and a real (cheap) argon2id hasher, to a sandbox and a
// production server sharing one database. On every input: no panic, no 5xx,
// JSON on every non-204 answer, no secret echoed in an answer that the
// request did not carry itself, and no secret in any log line.
//
// Inputs may name live secrets with placeholders, so the fuzzer can reach
// the paths behind a valid token: $TOKEN (a live reset token of Mr Bailey),
// $AUTH (a live auth token of Roy), $ROY and $BAILEY (their user UUIDs).

const (
	fuzzRoy      = "rbreslawski@cruxsupplier.com"
	fuzzRoyPW    = "thanos_rocks"
	fuzzBailey   = "mrbailey@projectthanos.com"
	maxSeenToken = 4096
)

// fuzzEnv is the world of one fuzzing process.
type fuzzEnv struct {
	store               account.Store
	sandbox, production *account.Service
	sandboxH, prodH     http.Handler
	log                 *syncBuffer

	token, auth       string // live reset token (Bailey), live auth token (Roy)
	royUUID, baiUUID  string
	seen              map[string]bool // secrets seen in earlier answers
	seenOrder         []string
	pendingTokenCheck bool
	n                 int // requests sent, for the client address
}

// syncBuffer collects the log of both servers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// cheapHasher is a real argon2id hasher with parameters a fuzzer can afford.
func cheapHasher(tb testing.TB) *password.Hasher {
	tb.Helper()
	h, err := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "fuzz.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	lb := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hasher := cheapHasher(tb)
	policy := password.Policy{}
	cfg := account.Config{Mode: account.Sandbox, HashWait: 10 * time.Second}
	e := &fuzzEnv{store: store, log: lb, seen: map[string]bool{}}
	e.sandbox = account.NewService(store, hasher, policy, cfg, log)
	cfg.Mode, cfg.Mail, cfg.Limits = account.Production, true, account.ProductionLimits
	e.production = account.NewService(store, hasher, policy, cfg, log)
	if _, err := e.sandbox.SeedSandbox(ctx); err != nil {
		tb.Fatal(err)
	}
	e.sandboxH = httpapi.New(e.sandbox, httpapi.Options{Logger: log})
	e.prodH = httpapi.New(e.production, httpapi.Options{Logger: log})
	e.refresh(tb)
	lb.take()
	return e
}

// refresh makes $TOKEN and $AUTH live again if an input spent or revoked them.
func (e *fuzzEnv) refresh(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	meta := account.Meta{IP: "192.0.2.1"}
	if e.token == "" || e.pendingTokenCheck {
		if _, err := e.sandbox.ValidateReset(ctx, e.token); e.token == "" || err != nil {
			tok, err := e.sandbox.RequestReset(ctx, fuzzBailey, meta)
			if err != nil {
				tb.Fatalf("issue a reset token: %v", err)
			}
			e.token = tok
		}
		e.pendingTokenCheck = false
	}
	if e.auth != "" {
		if _, err := e.sandbox.Authenticate(ctx, e.auth); err == nil {
			return
		}
	}
	sess, err := e.sandbox.Login(ctx, fuzzRoy, fuzzRoyPW, meta)
	if err != nil {
		tb.Fatalf("Roy's login stopped working: %v", err)
	}
	e.auth, e.royUUID = sess.AuthToken, sess.User.UUID
	if e.baiUUID == "" {
		err := e.store.View(ctx, func(tx account.Tx) error {
			u, err := tx.UserByEmail(ctx, fuzzBailey)
			if err == nil {
				e.baiUUID = u.UUID
			}
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// expand replaces the placeholders with the live values.
func (e *fuzzEnv) expand(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return strings.NewReplacer("$TOKEN", e.token, "$AUTH", e.auth, "$ROY", e.royUUID, "$BAILEY", e.baiUUID).Replace(s)
}

func (e *fuzzEnv) expandBytes(b []byte) []byte {
	if !bytes.Contains(b, []byte("$")) {
		return b
	}
	return []byte(e.expand(string(b)))
}

// secrets returns every secret the answer to input must not carry unless
// input carries it.
func (e *fuzzEnv) secrets() []string {
	return append([]string{e.token, e.auth}, e.seenOrder...)
}

func (e *fuzzEnv) remember(s string) {
	if s == "" || e.seen[s] {
		return
	}
	if len(e.seenOrder) >= maxSeenToken {
		delete(e.seen, e.seenOrder[0])
		e.seenOrder = e.seenOrder[1:]
	}
	e.seen[s] = true
	e.seenOrder = append(e.seenOrder, s)
}

// do sends req to h and checks the answer against every invariant. in is the
// request as the client wrote it (after placeholders), for the echo check.
func (e *fuzzEnv) do(t *testing.T, h http.Handler, req *http.Request, in []byte, production bool) *httptest.ResponseRecorder {
	t.Helper()
	// A new client address now and then, so that production's per-IP
	// limits do not answer every request with 429.
	e.n++
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.1:4242", e.n>>14&0xff, e.n>>6&0xff)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	logs := e.log.take()
	status := rec.Code
	body := rec.Body.Bytes()

	if status >= 500 {
		t.Fatalf("%s %s → %d %s\nlog:\n%s", req.Method, req.URL, status, body, logs)
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Fatalf("%s %s → %d: error logged:\n%s", req.Method, req.URL, status, logs)
	}
	if status != http.StatusNoContent {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s → %d with Content-Type %q", req.Method, req.URL, status, ct)
		}
		if !json.Valid(body) {
			t.Fatalf("%s %s → %d with a body that is not JSON: %q", req.Method, req.URL, status, body)
		}
	} else if len(body) != 0 {
		t.Fatalf("204 with a body: %q", body)
	}

	var out bytes.Buffer
	rec.Header().Write(&out)
	out.Write(body)
	for _, s := range e.secrets() {
		if s == "" {
			continue
		}
		if bytes.Contains(out.Bytes(), []byte(s)) && !bytes.Contains(in, []byte(s)) {
			t.Fatalf("%s %s → %d echoes a secret (%d chars) the request did not carry:\n%s", req.Method, req.URL, status, len(s), out.Bytes())
		}
		if strings.Contains(logs, s) && !strings.Contains(req.Header.Get("X-Request-Id"), s) {
			// A request id is logged as the client chose it; anything
			// else a client sends must never reach the log.
			t.Fatalf("%s %s: a secret (%d chars) is in the log:\n%s", req.Method, req.URL, len(s), logs)
		}
	}

	var fields struct {
		ResetToken string `json:"reset_token"`
		AuthToken  string `json:"auth_token"`
	}
	if status == http.StatusOK && json.Unmarshal(body, &fields) == nil {
		if production && fields.ResetToken != "" {
			t.Fatalf("production answered with a reset token: %s", body)
		}
		e.remember(fields.ResetToken)
		e.remember(fields.AuthToken)
	}
	if production && req.Method == http.MethodPost && strings.HasPrefix(req.URL.Path, "/organizations/reset-password") && status == http.StatusOK {
		if want := `{"detail":"` + account.MsgResetLinkSent + `"}`; string(body) != want {
			t.Fatalf("production Reset Password answered %s, want %s", body, want)
		}
	}
	if req.Method == http.MethodPost || bytes.Contains(in, []byte(e.token)) {
		e.pendingTokenCheck = true
	}
	return rec
}

// request builds a request; ok is false for one no HTTP client could send.
func request(method, target string, header http.Header, body []byte) (*http.Request, bool) {
	if !validMethod(method) || strings.ContainsAny(target, " \r\n\x00") {
		return nil, false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || !strings.HasPrefix(target, "/") {
		return nil, false
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Method, req.URL, req.RequestURI = method, u, target
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req, true
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue is what net/http would let a client send.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// both sends one request to the sandbox and the production server.
func (e *fuzzEnv) both(t *testing.T, method, target string, header http.Header, body []byte) {
	t.Helper()
	target, body = e.expand(target), e.expandBytes(body)
	in := []byte(target)
	for k, vs := range header {
		for i, v := range vs {
			vs[i] = e.expand(v)
			if !validHeaderValue(vs[i]) {
				return
			}
			in = append(in, k+": "+vs[i]+"\n"...)
		}
	}
	in = append(in, body...)
	for _, prod := range []bool{false, true} {
		req, ok := request(method, target, header.Clone(), body)
		if !ok {
			return
		}
		h := e.sandboxH
		if prod {
			h = e.prodH
		}
		e.do(t, h, req, in, prod)
	}
	e.refresh(t)
}

func jsonHeader(ct string) http.Header {
	return http.Header{"Content-Type": {ct}}
}

func FuzzResetPassword(f *testing.F) {
	f.Add("application/json", []byte(`{"email": "mrbailey@projectthanos.com"}`))
	f.Add("application/json; charset=utf-8", []byte(`{"email": "  RBreslawski@CruxSupplier.com "}`))
	f.Add("application/json", []byte(`{"email": "a@b.c\r\nBcc: x@y.z"}`))
	f.Add("text/plain", []byte(`{"email": 1}`))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		e.both(t, http.MethodPost, "/organizations/reset-password/", jsonHeader(ct), body)
	})
}

func FuzzValidateReset(f *testing.F) {
	f.Add("token=$TOKEN", []byte(nil))
	f.Add("", []byte(`{"token": "$TOKEN"}`))
	f.Add("token=G7TwCq1Vkds0DLYnfAuP", []byte(`{"token": null}`))
	f.Add("token=%00%ff&token=$TOKEN", []byte(`[]`))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		target := "/organizations/complete-password/"
		if query != "" {
			target += "?" + query
		}
		e.both(t, http.MethodGet, target, jsonHeader("application/json"), body)
	})
}

func FuzzCreateNewPassword(f *testing.F) {
	f.Add("application/json", []byte(`{"password": "crux_is_awesome", "token": "$TOKEN"}`))
	f.Add("application/json", []byte(`{"password": "correct horse battery staple", "token": "$TOKEN"}`))
	f.Add("application/json", []byte(`{"password": "mrbailey@projectthanos.com", "token": "$TOKEN"}`))
	f.Add("application/json", []byte(`{"password": 12, "token": ["$TOKEN"]}`))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		e.both(t, http.MethodPost, "/organizations/complete-password/", jsonHeader(ct), body)
	})
}

func FuzzLogin(f *testing.F) {
	f.Add("application/json", []byte(`{"username": "rbreslawski@cruxsupplier.com", "password": "thanos_rocks"}`))
	f.Add("application/json", []byte(`{"username": "RBRESLAWSKI@cruxsupplier.com ", "password": "wrong"}`))
	f.Add("application/json", []byte(`{"username": "mrbailey@projectthanos.com", "password": ""}`))
	f.Add("application/json", []byte(`{"username": {"$ne": null}, "password": true}`))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		e.both(t, http.MethodPost, "/organizations/user-login/", jsonHeader(ct), body)
	})
}

func FuzzGetUser(f *testing.F) {
	f.Add("$ROY", "Token $AUTH")
	f.Add("$BAILEY", "Token $AUTH")
	f.Add("$ROY", "token  $AUTH ")
	f.Add("..%2f..%2f", "Bearer $AUTH")
	f.Add("00000000-0000-0000-0000-000000000000", "Token 0123456789abcdef0123456789abcdef01234567")
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, uuid, authorization string) {
		e.both(t, http.MethodGet, "/organizations/users/detail/"+uuid+"/", http.Header{"Authorization": {authorization}}, nil)
	})
}

func FuzzInviteUser(f *testing.F) {
	f.Add("Token $AUTH", []byte(`{"email": "ann@cruxsupplier.com", "first_name": "Ann", "last_name": "Lee"}`))
	f.Add("Token $AUTH", []byte(`{"email": "mrbailey@projectthanos.com", "first_name": "A", "last_name": "B", "permission_uuids": []}`))
	f.Add("Token $AUTH", []byte(`{"email": "x@cruxsupplier.com", "first_name": "A\u0000", "last_name": "B", "permission_uuids": [1, null]}`))
	f.Add("Token 0123456789abcdef0123456789abcdef01234567", []byte(`{"email": "a@b.c\r\nBcc: x@y.z", "first_name": {}, "last_name": []}`))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, authorization string, body []byte) {
		h := jsonHeader("application/json")
		h.Set("Authorization", authorization)
		e.both(t, http.MethodPost, "/organizations/users/", h, body)
	})
}

func FuzzAcceptInvite(f *testing.F) {
	f.Add("$TOKEN", []byte(`{"password": "correct horse battery staple"}`))
	f.Add("KUMJLpo0tzFVeC5w1uni", []byte(`{"password": "crux_is_awesome"}`))
	f.Add("..%2f..%2f", []byte(`{"password": null}`))
	f.Add("%00", []byte(`[]`))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, token string, body []byte) {
		e.both(t, http.MethodGet, "/organizations/accept-invite/"+token+"/", nil, nil)
		e.both(t, http.MethodPost, "/timp/organizations/accept-invite/"+token+"/", jsonHeader("application/json"), body)
	})
}

// FuzzRouter sends whole raw requests: any method, path, headers and body.
func FuzzRouter(f *testing.F) {
	for _, s := range []string{
		"POST /organizations/reset-password HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"email\": \"mrbailey@projectthanos.com\"}",
		"PUT /organizations/complete-password/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /organizations/complete-password/?token=$TOKEN HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /organizations/users/detail/$ROY HTTP/1.1\r\nHost: x\r\nAuthorization: Token $AUTH\r\nX-Request-Id: $TOKEN\r\n\r\n",
		"POST /organizations/revoke-password-reset/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n{\"token\":\"$TOKEN\"\r\n1\r\n}\r\n0\r\n\r\n",
		"DELETE /../organizations//user-login/ HTTP/1.0\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		raw = e.expandBytes(raw)
		for _, prod := range []bool{false, true} {
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				return // the server answers 400 itself before any handler runs
			}
			if !strings.HasPrefix(req.RequestURI, "/") {
				return
			}
			h := e.sandboxH
			if prod {
				h = e.prodH
			}
			e.do(t, h, req, raw, prod)
		}
		e.refresh(t)
	})
}
