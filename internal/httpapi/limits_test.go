package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// serveLimited starts the API over real HTTP on a fresh SQLite file with
// the real hasher, the demo users, limits in force, the clock now and
// loopback as the trusted proxy.
func serveLimited(t *testing.T, limits account.Limits, now func() time.Time) *httptest.Server {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "cruxd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// A burst queues for the hash slots: let it wait rather than answer 503.
	cfg := account.Config{Mode: account.Production, Limits: limits, HashWait: time.Minute}
	svc := mustService(t, store, cfg)
	svc.Now = now
	if _, err := svc.SeedSandbox(context.Background()); err != nil {
		t.Fatal(err)
	}
	opt := httpapi.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	srv := httptest.NewServer(httpapi.New(svc, opt))
	t.Cleanup(srv.Close)
	return srv
}

// postLogin posts a login from client ip (none: the connection's) and
// returns the status.
func postLogin(t *testing.T, srv *httptest.Server, username, pw, ip string) int {
	t.Helper()
	status, _ := login(t, srv, username, pw, ip)
	return status
}

// session is the body of a successful login.
type session struct {
	AuthToken string `json:"auth_token"`
	UserUUID  string `json:"user_uuid"`
}

// login posts a login from client ip (none: the connection's) and returns
// the status and, on 200, the session.
func login(t *testing.T, srv *httptest.Server, username, pw, ip string) (int, session) {
	t.Helper()
	var s session
	body, _ := json.Marshal(map[string]string{"username": username, "password": pw})
	req, err := http.NewRequest("POST", srv.URL+"/organizations/user-login/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Error(err)
		return 0, s
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Error(err)
		}
	}
	return resp.StatusCode, s
}

// testClock is a clock the test sets while the server reads it.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.Set(t)
	return c
}

func (c *testClock) Now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// burst sends n logins at once, released together through a barrier, and
// returns how many got each status.
func burst(t *testing.T, srv *httptest.Server, n int, creds func(i int) (string, string)) map[int]int {
	t.Helper()
	var (
		ready, done sync.WaitGroup
		start       = make(chan struct{})
		statuses    = make([]int, n)
	)
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			user, pw := creds(i)
			ready.Done()
			<-start
			statuses[i] = postLogin(t, srv, user, pw, "")
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	count := make(map[int]int)
	for _, s := range statuses {
		count[s]++
	}
	return count
}

// TestLoginLimitsHoldUnderBurst: of a burst of wrong logins released
// together, exactly the limit reach the hash (401); the rest get 429.
func TestLoginLimitsHoldUnderBurst(t *testing.T) {
	const n = 30
	now := time.Date(2026, 11, 26, 12, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		limits account.Limits
		user   func(i int) string
		want   int
	}{
		{"per username", account.Limits{FailedLoginsPerUserIP: 5},
			func(int) string { return "nobody@example.com" }, 5},
		{"per IP", account.Limits{FailedLoginsPerIPMinute: 10},
			func(i int) string { return fmt.Sprintf("user%d@example.com", i) }, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serveLimited(t, tc.limits, func() time.Time { return now })
			got := burst(t, srv, n, func(i int) (string, string) { return tc.user(i), "wrong password" })
			if got[http.StatusUnauthorized] != tc.want || got[http.StatusTooManyRequests] != n-tc.want {
				t.Errorf("statuses %v, want %d × 401 and %d × 429", got, tc.want, n-tc.want)
			}
		})
	}
}

// TestGuessersCannotLockOwnerOut: 1,000 wrong passwords an hour for one
// account from 100 addresses reach the hash no more than the documented 20
// times an hour, and the owner, from the address it logged in from
// before, logs in throughout.
func TestGuessersCannotLockOwnerOut(t *testing.T) {
	const (
		perHour = 20 // docs/security.md: failed logins an hour per account from unknown clients
		roy     = "rbreslawski@cruxsupplier.com"
		royPW   = "thanos_rocks"
		owner   = "203.0.113.5"
	)
	clk := newTestClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	srv := serveLimited(t, account.ProductionLimits, clk.Now)
	if st := postLogin(t, srv, roy, royPW, owner); st != http.StatusOK {
		t.Fatalf("owner's first login: %d", st)
	}
	for hour := range 2 {
		start := clk.Now()
		tries := 0
		for i := range 1000 {
			clk.Set(start.Add(time.Duration(i) * time.Hour / 1000))
			switch st := postLogin(t, srv, roy, "wrong password", fmt.Sprintf("198.51.100.%d", i%100)); st {
			case http.StatusUnauthorized:
				tries++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("hour %d, guess %d: status %d", hour, i, st)
			}
			if i%100 == 99 {
				if st := postLogin(t, srv, roy, royPW, owner); st != http.StatusOK {
					t.Fatalf("hour %d, after %d guesses: owner's login %d, want 200", hour, i+1, st)
				}
			}
		}
		if tries > perHour {
			t.Errorf("hour %d: %d guesses reached the hash, want at most %d", hour, tries, perHour)
		}
		t.Logf("hour %d: %d of 1000 guesses reached the hash", hour, tries)
		clk.Set(start.Add(time.Hour))
	}
}

// TestCorrectLoginsAreLimited: of 40 correct logins from one client in a
// minute the documented 30 get a session and the rest 429, and of the
// sessions only the newest 10 stay live.
func TestCorrectLoginsAreLimited(t *testing.T) {
	const (
		perMinute = 30 // docs/security.md: logins from one client a minute
		live      = 10 // docs/security.md: live auth tokens per user
		roy       = "rbreslawski@cruxsupplier.com"
	)
	clk := newTestClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	srv := serveLimited(t, account.ProductionLimits, clk.Now)
	start := clk.Now()
	var sessions []session
	count := make(map[int]int)
	for i := range 40 {
		clk.Set(start.Add(time.Duration(i) * time.Second)) // one minute, tokens in order
		st, s := login(t, srv, roy, "thanos_rocks", "192.0.2.9")
		count[st]++
		if st == http.StatusOK {
			sessions = append(sessions, s)
		}
	}
	if count[http.StatusOK] != perMinute || count[http.StatusTooManyRequests] != 40-perMinute {
		t.Errorf("statuses %v, want %d × 200 and %d × 429", count, perMinute, 40-perMinute)
	}
	for i, s := range sessions {
		req, err := http.NewRequest("GET", srv.URL+"/organizations/users/detail/"+s.UserUUID+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Token "+s.AuthToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusOK
		if i < len(sessions)-live {
			want = http.StatusUnauthorized
		}
		if resp.StatusCode != want {
			t.Errorf("session %d of %d: %d, want %d (the newest %d stay live)", i+1, len(sessions), resp.StatusCode, want, live)
		}
	}
}
