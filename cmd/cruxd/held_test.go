package main

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
)

// heldResult is the answer to one held login.
type heldResult struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

// heldLogins starts n logins as roy that each send half their body, and
// returns once all n are inside cruxd's handlers (its in-flight gauge says
// so; p must serve metrics): none can finish until finish is called, which sends the rest of every
// body at once and returns each answer. It makes "n requests in flight" a
// state, not a race.
func heldLogins(t *testing.T, p *cruxdtest.Process, n int, client *http.Client) (finish func() []heldResult) {
	t.Helper()
	results := make([]heldResult, n)
	rest := make([]*io.PipeWriter, n)
	var wg sync.WaitGroup
	for i := range n {
		pr, pw := io.Pipe()
		rest[i] = pw
		wg.Go(func() {
			resp, err := client.Post(p.URL+"/organizations/user-login/", "application/json", pr)
			if err != nil {
				results[i].Err = err
				return
			}
			defer resp.Body.Close()
			results[i].Status, results[i].Header = resp.StatusCode, resp.Header
			results[i].Body, results[i].Err = io.ReadAll(resp.Body)
		})
		go pw.Write([]byte(`{"username": "` + roy + `", `))
	}
	waitMetric(t, p, `cruxd_http_requests_in_flight`, func(v float64) bool { return v >= float64(n) })
	return func() []heldResult {
		for _, pw := range rest {
			go func() {
				pw.Write([]byte(`"password": "` + royOldPW + `"}`))
				pw.Close()
			}()
		}
		wg.Wait()
		return results
	}
}

// heldClient is a client for held requests: no connection reuse, bounded.
func heldClient() *http.Client {
	return &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}
