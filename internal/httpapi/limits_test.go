package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// serveLimited starts the API over real HTTP on a fresh SQLite file with
// the real hasher, limits in force and the clock stopped at now.
func serveLimited(t *testing.T, limits account.Limits, now time.Time) (*httptest.Server, *account.Service) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "cruxd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// A burst queues for the hash slots: let it wait rather than answer 503.
	cfg := account.Config{Mode: account.Production, Limits: limits, HashWait: time.Minute}
	svc := mustService(t, store, cfg)
	svc.Now = func() time.Time { return now }
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{}))
	t.Cleanup(srv.Close)
	return srv, svc
}

// postLogin posts a login and returns the status.
func postLogin(t *testing.T, srv *httptest.Server, username, pw string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": pw})
	resp, err := srv.Client().Post(srv.URL+"/organizations/user-login/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

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
			statuses[i] = postLogin(t, srv, user, pw)
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
		{"per username", account.Limits{FailedLoginsPerAccount: 5},
			func(int) string { return "nobody@example.com" }, 5},
		{"per IP", account.Limits{FailedLoginsPerIPMinute: 10},
			func(i int) string { return fmt.Sprintf("user%d@example.com", i) }, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := serveLimited(t, tc.limits, now)
			got := burst(t, srv, n, func(i int) (string, string) { return tc.user(i), "wrong password" })
			if got[http.StatusUnauthorized] != tc.want || got[http.StatusTooManyRequests] != n-tc.want {
				t.Errorf("statuses %v, want %d × 401 and %d × 429", got, tc.want, n-tc.want)
			}
		})
	}
}
