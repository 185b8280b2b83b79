package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

// The soak run:
//
//	go test -count=1 -run '^TestSoak$' ./cmd/cruxd -soak 10m          # documented run
//	CRUXD_SOAK=60s go test -count=1 -run '^TestSoak$' ./cmd/cruxd    # CI variant
//	CRUXD_SOAK_DB=postgres ...                                         # on PostgreSQL
//
// It measures the capacity of a real cruxd for a mix of the five API calls,
// then offers half of it, open loop, for the whole duration and samples the
// process: zero 5xx, and RSS, threads and (when /metrics exists) goroutines
// flat after warm-up: the median of the last tenth of the samples at most 10%
// above that of the first tenth after warm-up.
var soakFor = flag.Duration("soak", 0, "TestSoak: how long to soak (0: skip unless CRUXD_SOAK is set)")

type soakSample struct {
	at         time.Duration
	rssKB      int
	threads    int
	goroutines int // -1 without /metrics
}

func TestSoak(t *testing.T) {
	d := *soakFor
	if v := os.Getenv("CRUXD_SOAK"); d == 0 && v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("CRUXD_SOAK=%q: %v", v, err)
		}
	}
	if d == 0 {
		t.Skip("soak run: pass -soak 10m or set CRUXD_SOAK")
	}
	db := filepath.Join(t.TempDir(), "cruxd.db")
	if os.Getenv("CRUXD_SOAK_DB") == "postgres" {
		db = testenv.PostgresDSN(t)
	}
	// A process of its own: the soak reads its memory through its pid.
	p := cruxdtest.Start(t, []string{"--db", db, "--metrics-addr", "127.0.0.1:0"})
	pid := p.Cmd.Process.Pid
	w := newSoakWorld(t, p)

	// Capacity: closed loop, 8 clients, 8 seconds.
	const probeClients, probeFor = 8, 8 * time.Second
	var probed atomic.Int64
	deadline := time.Now().Add(probeFor)
	var wg sync.WaitGroup
	for i := range probeClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for time.Now().Before(deadline) {
				// A quick 503 is no capacity: count only real answers.
				if s := w.one(t, rng); s > 0 && s < 500 {
					probed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	capacity := float64(probed.Load()) / probeFor.Seconds()
	rate := capacity / 2
	w.mu.Lock()
	t.Logf("capacity %.0f req/s (closed loop, %d clients, answers below 500 only; probe statuses %v); soaking at %.0f req/s for %v",
		capacity, probeClients, w.counts, rate, d)
	w.mu.Unlock()
	w.reset()

	// Soak: open loop at half capacity.
	metrics := hasGoroutineMetric(p)
	var samples []soakSample
	sample := func(at time.Duration) {
		s := soakSample{at: at, goroutines: -1}
		s.rssKB, s.threads = procStatus(t, pid)
		if metrics {
			s.goroutines = goroutines(p)
		}
		samples = append(samples, s)
	}
	start := time.Now()
	sample(0)
	every := max(d/120, time.Second)
	sampler := time.NewTicker(every)
	defer sampler.Stop()
	interval := time.Duration(float64(time.Second) / rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	sem := make(chan struct{}, 64) // in flight at most; beyond it the server is falling behind
	var backlog atomic.Int64
	end := time.After(d)
	var n uint64
loop:
	for {
		select {
		case <-end:
			break loop
		case <-sampler.C:
			sample(time.Since(start))
		case <-tick.C:
			n++
			select {
			case sem <- struct{}{}:
			default:
				backlog.Add(1)
				continue
			}
			wg.Add(1)
			go func(n uint64) {
				defer wg.Done()
				defer func() { <-sem }()
				w.one(t, rand.New(rand.NewPCG(n, 2)))
			}(n)
		}
	}
	wg.Wait()
	sample(time.Since(start))

	// Warm-up is the first fifth; compare the median of the first and the
	// last tenth after it.
	after := slices.DeleteFunc(slices.Clone(samples), func(s soakSample) bool { return s.at < d/5 })
	k := max(len(after)/10, 3)
	if len(after) < 2*k {
		t.Fatalf("only %d samples after warm-up", len(after))
	}
	first, last := after[:k], after[len(after)-k:]
	med := func(ss []soakSample, f func(soakSample) int) int {
		v := make([]int, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rss := func(s soakSample) int { return s.rssKB }
	thr := func(s soakSample) int { return s.threads }
	gor := func(s soakSample) int { return s.goroutines }
	flat := func(name string, f func(soakSample) int, slack int) {
		a, b := med(first, f), med(last, f)
		hi := 0
		for _, s := range samples {
			hi = max(hi, f(s))
		}
		t.Logf("%s: %d at start, %d after warm-up, %d at the end (median of %d samples each; max %d)", name, f(samples[0]), a, b, k, hi)
		// Growth is a leak; a fall is memory the runtime gave back to the
		// system (the scavenger), or idle goroutines and threads ending.
		if float64(b) > float64(a)*1.10+float64(slack) {
			t.Errorf("%s grew after warm-up: %d → %d (more than 10%%)", name, a, b)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("%d requests in %v (%.0f req/s offered, %d not sent because 64 were in flight); statuses %v",
		w.total, time.Since(start).Round(time.Second), rate, backlog.Load(), w.counts)
	flat("RSS KiB", rss, 0)
	flat("threads", thr, 2)
	if metrics {
		flat("goroutines", gor, 5)
	} else {
		t.Log("goroutines: not measured (no go_goroutines on /metrics)")
	}
	if w.fiveXX > 0 || w.transport > 0 {
		t.Errorf("%d answers were 5xx and %d requests failed in transport", w.fiveXX, w.transport)
	}
	if w.unexpected > 0 {
		t.Errorf("%d answers had an unexpected status", w.unexpected)
	}
	if b := backlog.Load(); b > int64(w.total/100) {
		t.Errorf("the server fell behind half its capacity: %d requests not sent", b)
	}
}

// liveAuthTokens is the number of a user's auth tokens that stay live
// (docs/security.md).
const liveAuthTokens = 10

// soakWorld is the shared state of the soak clients.
type soakWorld struct {
	p       *cruxdtest.Process
	royUUID string

	mu         sync.Mutex
	auth       string   // Roy's newest auth token seen
	authLogin  int      // logins answered when auth was
	logins     int      // Roy's logins answered 200
	tokens     []string // recent reset tokens of Bailey
	counts     map[string]int
	total      int
	fiveXX     int
	transport  int
	unexpected int
}

func newSoakWorld(t *testing.T, p *cruxdtest.Process) *soakWorld {
	m := login(t, p, roy, royOldPW)
	return &soakWorld{p: p, auth: m["auth_token"].(string), royUUID: m["user_uuid"].(string), counts: map[string]int{}}
}

func (w *soakWorld) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts, w.total, w.fiveXX, w.transport, w.unexpected = map[string]int{}, 0, 0, 0, 0
}

// one sends one call of the mix (reset 25%, validate 25%, get user 25%,
// login 20%, complete 5%) and returns its status, 0 for a transport error.
func (w *soakWorld) one(t *testing.T, rng *rand.Rand) int {
	x := rng.IntN(100)
	w.mu.Lock()
	auth, authLogin := w.auth, w.authLogin
	var tok string
	if len(w.tokens) > 0 {
		tok = w.tokens[rng.IntN(len(w.tokens))]
	}
	w.mu.Unlock()
	var name, method, path string
	var body any
	var header []string
	var ok []int
	switch {
	case x < 25:
		name, method, path, body, ok = "reset", "POST", "/organizations/reset-password/", map[string]string{"email": bailey}, []int{200}
	case x < 50:
		if tok == "" {
			tok = "AAAAAAAAAAAAAAAAAAAA"
		}
		name, method, path, ok = "validate", "GET", "/organizations/complete-password/?token="+tok, []int{200, 404}
	case x < 75:
		name, method, path, header, ok = "user", "GET", "/organizations/users/detail/"+w.royUUID+"/", []string{"Authorization", "Token " + auth}, []int{200}
	case x < 95:
		name, method, path, body, ok = "login", "POST", "/organizations/user-login/", map[string]string{"username": roy, "password": royOldPW}, []int{200}
	default:
		if tok == "" {
			tok = "AAAAAAAAAAAAAAAAAAAA"
		}
		pw := fmt.Sprintf("soak password %d", rng.Uint64())
		name, method, path, body, ok = "complete", "POST", "/organizations/complete-password/", map[string]string{"token": tok, "password": pw}, []int{204, 404}
	}
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, w.p.URL+path, rd)
	} else {
		req, err = http.NewRequest(method, w.p.URL+path, nil)
	}
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := cruxdtest.Client.Do(req)
	status := 0
	var got struct {
		ResetToken string `json:"reset_token"`
		AuthToken  string `json:"auth_token"`
	}
	if err == nil {
		err = json.NewDecoder(resp.Body).Decode(&got)
		if resp.StatusCode == 204 {
			err = nil
		}
		resp.Body.Close()
		status = resp.StatusCode
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total++
	w.counts[name+" "+strconv.Itoa(status)]++
	switch {
	case status == 0:
		w.transport++
		if w.transport <= 3 {
			t.Logf("%s: %v", name, err)
		}
	case status >= 500:
		w.fiveXX++
	case name == "user" && status == 401 && w.logins-authLogin >= liveAuthTokens/2:
		// Roy's logins since revoked the token (oldest past the cap of
		// live tokens; answers may come back out of order).
	case !slices.Contains(ok, status):
		w.unexpected++
	}
	if got.AuthToken != "" {
		w.logins++
		w.auth, w.authLogin = got.AuthToken, w.logins
	}
	if got.ResetToken != "" {
		w.tokens = append(w.tokens, got.ResetToken)
		if len(w.tokens) > 3 {
			w.tokens = w.tokens[len(w.tokens)-3:]
		}
	}
	return status
}

// procStatus returns VmRSS (KiB) and Threads of a process.
func procStatus(t *testing.T, pid int) (rssKB, threads int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read process status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			rssKB, _ = strconv.Atoi(fields[0])
		case "Threads":
			threads, _ = strconv.Atoi(fields[0])
		}
	}
	return rssKB, threads
}

func hasGoroutineMetric(p *cruxdtest.Process) bool { return goroutines(p) >= 0 }

// goroutines reads go_goroutines from /metrics, or -1.
func goroutines(p *cruxdtest.Process) int {
	if p.MetricsURL == "" {
		return -1
	}
	resp, err := cruxdtest.Client.Get(p.MetricsURL)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return -1
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(n)
			}
		}
	}
	return -1
}
