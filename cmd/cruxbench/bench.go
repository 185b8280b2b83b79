package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cruxd/cruxd/internal/password"
)

// Endpoint paths of API.md.
const (
	pathReset    = "/organizations/reset-password/"
	pathComplete = "/organizations/complete-password/"
	pathLogin    = "/organizations/user-login/"
	pathUser     = "/organizations/users/detail/"
)

// newPassword is what Create New Password sets; it passes the policy.
const newPassword = "cruxbench renewed password 42"

// endpoint is one API call measured against cruxd and the bare server.
type endpoint struct {
	key, name string
	hashBound bool // its cost is one argon2id hash
	// targeter returns a fresh targeter against base; bare is true for the
	// bare server, which needs no live tokens.
	targeter func(base string, bare bool) targeter
	maxHits  func(bare bool) uint64 // pool bound, 0 = none

	sat       []*satRun // one per number of connections
	fixed     *stats
	fixedRate int
}

// bench is one run's state.
type bench struct {
	o        *options
	dir      string
	cruxd    string
	db       *database
	log      string
	cores    int
	hashTime time.Duration
	parHash  float64 // hashes/s of bare argon2id on every core at once, in this process
	users    int     // users in the database
	expired  int     // expired unused reset tokens in the database

	proc      *process
	serveArgs []string // more flags for cruxd serve
	pprofAddr string
	bareProc  *process

	// users are split so that endpoints never disturb each other's data:
	// Create New Password revokes a user's tokens and changes its password.
	resetUsers    [2]int // [lo, hi)
	validateUsers [2]int
	loginUsers    [2]int
	authUsers     [2]int
	completeUsers [2]int

	validatePool []string
	completePool []string
	authPool     []authToken
	completeNext atomic.Int64

	idleRSS       int64
	startups      []time.Duration
	startupErr    error
	flood         *stats
	floodRate     int
	baseline      map[string]float64 // endpoint key → req/s on the baseline database
	loadUsersTime time.Duration
	loadTokenTime time.Duration
	reused        bool // the database was loaded by an earlier run
	purge         *purgeResult
	loadAvg       [2]string // at the start and the end of the measurements
	checkKey      string    // the endpoint whose bare server wrk also measures
	fsync         time.Duration
}

type authToken struct{ token, uuid string }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	b := &bench{o: o, cores: runtime.NumCPU(), users: o.Users, expired: o.ExpiredTokens}
	b.dir, err = os.MkdirTemp("", "cruxbench-")
	if err != nil {
		return err
	}
	if o.Keep {
		logf("keeping %s", b.dir)
	} else {
		defer os.RemoveAll(b.dir)
	}
	b.log = filepath.Join(b.dir, "cruxd.log")

	b.hashTime = measureHash()
	logf("argon2id hash (DefaultParams): %v; bound %d cores ÷ hash = %.1f/s", b.hashTime.Round(time.Microsecond), b.cores, b.hashBound())
	b.fsync = measureFsync(b.dir)

	if b.cruxd = o.Cruxd; b.cruxd == "" {
		logf("building cruxd")
		if b.cruxd, err = buildCruxd(b.dir); err != nil {
			return err
		}
	}
	b.db, err = b.newDatabase(ctx, "cruxd.db")
	if err != nil {
		return err
	}
	if b.db.drop != nil && !o.Keep {
		defer b.db.drop()
	}
	if _, err := os.Stat(b.db.dsn); o.SQLiteFile != "" && err == nil {
		b.reused = true
		l, err := prepareReuse(ctx, b.db.dsn, o.Batch, time.Now())
		if err != nil {
			return err
		}
		b.users, b.expired = l.users, l.expired
		logf("reusing %s: %d users, %d expired reset tokens (-users and -expired-tokens ignored); deleted the %d reset tokens of earlier runs", b.db.dsn, b.users, b.expired, l.deleted)
	} else if err := b.load(ctx, b.db, o.Users, o.ExpiredTokens); err != nil {
		return err
	}
	if o.LoadOnly {
		return nil
	}
	b.partition(b.users)

	b.loadAvg[0] = loadAverage()
	if err := b.startCruxd(b.db); err != nil {
		return err
	}
	defer func() { b.proc.stop() }()
	time.Sleep(time.Second)
	if st, err := procStatus(b.proc.pid()); err == nil {
		b.idleRSS = int64(st.VmRSS)
	}
	logf("cruxd idle RSS %s", mib(b.idleRSS))
	b.saveProfile("heap", "idle.heap.pprof")

	eps := b.endpoints()
	if err := b.makePools(ctx, eps); err != nil {
		return err
	}
	b.bareProc, err = b.startBare()
	if err != nil {
		return err
	}
	defer b.bareProc.stop()

	b.checkKey = checkEndpoint(eps)
	remeasured := false
	for _, e := range eps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.hashBound && !remeasured {
			// The bound uses the faster of two measurements, at the start and
			// now, so a busier machine at either moment cannot lower it.
			remeasured = true
			time.Sleep(time.Second)
			if d := measureHash(); d < b.hashTime {
				b.hashTime = d
			}
			logf("argon2id hash again: bound %.1f/s", b.hashBound())
			b.parHash = measureHashParallel(b.cores)
			logf("argon2id on %d cores at once, no server: %.1f/s (%.0f%% of the bound)", b.cores, b.parHash, 100*b.parHash/b.hashBound())
			time.Sleep(time.Second)
		}
		b.measure(ctx, e, e.key == b.checkKey)
	}
	if o.want("login") && ctx.Err() == nil {
		b.measureFlood()
	}
	if o.Purge && ctx.Err() == nil {
		for _, e := range eps {
			if e.key == "reset" {
				if o.PurgeServer {
					b.purge = b.measureServerPurge(e)
				} else {
					b.purge = b.measurePurge(e)
				}
			}
		}
	}
	b.bareProc.stop()
	b.proc.stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	b.measureStartup()
	b.loadAvg[1] = loadAverage()
	if o.BaselineUsers > 0 {
		if err := b.measureBaseline(ctx); err != nil {
			logf("baseline: %v", err)
		}
	}

	report := b.report(eps)
	fmt.Fprint(stdout, report)
	if o.Out != "" {
		return os.WriteFile(o.Out, []byte(report), 0o644)
	}
	return nil
}

func (b *bench) hashBound() float64 { return float64(b.cores) / b.hashTime.Seconds() }

// measureHash returns the median time of one argon2id hash with cruxd's
// parameters, measured in this process on an idle core.
func measureHash() time.Duration {
	h, _ := password.NewHasher(password.DefaultParams)
	h.Hash("warm up")
	var ds []time.Duration
	for range 7 {
		t := time.Now()
		h.Hash("correct horse battery staple")
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// measureHashParallel returns how many argon2id hashes per second this
// process computes with one goroutine per core hashing for about 2 s, after
// a warm-up that grows the heap. It is what the hash-bound calls could reach
// with nothing else to do: hashes run side by side cost more each than one
// alone (each allocates 19 MiB; see BenchmarkHashParallel). It is reported,
// not used as the bound.
func measureHashParallel(cores int) float64 {
	h, _ := password.NewHasher(password.DefaultParams)
	run := func(d time.Duration) (int64, time.Duration) {
		var n atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range cores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(start) < d {
					h.Hash("correct horse battery staple")
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return n.Load(), time.Since(start)
	}
	run(500 * time.Millisecond)
	n, d := run(2 * time.Second)
	return float64(n) / d.Seconds()
}

// measureFsync returns the median time of writing 4 KiB and fsyncing it in
// dir: what one durable commit costs at least on this disk.
func measureFsync(dir string) time.Duration {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []time.Duration
	for i := range 50 {
		t := time.Now()
		f.WriteAt(buf, int64(i%8)*4096)
		f.Sync()
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func (b *bench) newDatabase(ctx context.Context, name string) (*database, error) {
	if b.o.DB != "" {
		return createPostgresDatabase(ctx, b.o.DB)
	}
	if b.o.SQLiteFile != "" && name == "cruxd.db" {
		return &database{dsn: b.o.SQLiteFile}, nil
	}
	return &database{dsn: filepath.Join(b.dir, name)}, nil
}

// load fills db with users and expired tokens through the store.
func (b *bench) load(ctx context.Context, db *database, users, expired int) error {
	t := time.Now()
	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	ids, err := loadUsers(ctx, st, users, b.o.Batch)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	b.loadUsersTime = time.Since(t)
	logf("loaded %d users in %v", users, b.loadUsersTime.Round(time.Millisecond))
	if expired > 0 {
		t = time.Now()
		last := time.Now()
		err := loadExpiredTokens(ctx, db, ids, expired, b.o.Batch, func(done int) {
			if time.Since(last) > 10*time.Second {
				last = time.Now()
				logf("  %d/%d expired tokens (%.0f rows/s)", done, expired, float64(done)/time.Since(t).Seconds())
			}
		})
		if err != nil {
			return err
		}
		b.loadTokenTime = time.Since(t)
		logf("loaded %d expired tokens in %v", expired, b.loadTokenTime.Round(time.Millisecond))
	}
	return nil
}

func (b *bench) partition(n int) {
	at := func(f float64) int { return int(f * float64(n)) }
	b.resetUsers = [2]int{0, at(0.4)}
	b.validateUsers = [2]int{at(0.4), at(0.5)}
	b.loginUsers = [2]int{at(0.5), at(0.7)}
	b.authUsers = [2]int{at(0.7), at(0.75)}
	b.completeUsers = [2]int{at(0.75), n}
}

func (b *bench) cruxdArgs(db *database) []string {
	args := []string{"serve", "--db", db.dsn, "--addr", "127.0.0.1:0", "--mode", "sandbox"}
	if b.pprofAddr != "" {
		args = append(args, "--pprof-addr", b.pprofAddr)
	}
	if b.o.PurgeDuring {
		args = append(args, purgeSoonArgs...)
	}
	return append(args, b.serveArgs...)
}

func (b *bench) startCruxd(db *database) error {
	if b.o.PprofDir != "" && b.pprofAddr == "" {
		b.pprofAddr = freeAddr()
		if err := os.MkdirAll(b.o.PprofDir, 0o755); err != nil {
			return err
		}
	}
	p, err := startProcess(b.cruxd, b.cruxdArgs(db), nil, b.log)
	if err != nil {
		return err
	}
	b.proc = p
	logf("cruxd pid %d at %s", p.pid(), p.url)
	return nil
}

func (b *bench) startBare() (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startProcess(self, []string{"bare-server"}, nil, filepath.Join(b.dir, "bare.log"))
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:6061"
	}
	defer ln.Close()
	return ln.Addr().String()
}

// saveProfile fetches a pprof profile of cruxd when -pprof-dir is set.
func (b *bench) saveProfile(query, file string) {
	if b.pprofAddr == "" {
		return
	}
	resp, err := http.Get("http://" + b.pprofAddr + "/debug/pprof/" + query)
	if err != nil {
		logf("pprof %s: %v", query, err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		logf("pprof %s: %s", query, resp.Status)
		return
	}
	os.WriteFile(filepath.Join(b.o.PprofDir, file), data, 0o644)
}

// jsonBody returns v as JSON.
func jsonBody(v any) []byte {
	body, _ := json.Marshal(v)
	return body
}

func pick(r [2]int) int { return r[0] + mrand.IntN(r[1]-r[0]) }

// appendResetBody appends Reset Password's body for user i: what
// json.Marshal makes of it, without its cost to the generator.
func appendResetBody(buf []byte, i int) []byte {
	buf = append(buf, `{"email":"user`...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	return append(buf, `@`+benchDomain+`"}`...)
}

// endpoints returns the endpoints of this run, with their targeters.
func (b *bench) endpoints() []*endpoint {
	all := []*endpoint{
		{key: "reset", name: "Reset Password", targeter: func(base string, _ bool) targeter {
			return targeter{base, func(r *hreq) error {
				*r = hreq{method: "POST", path: pathReset, body: appendResetBody(r.body[:0], pick(b.resetUsers))}
				return nil
			}}
		}},
		{key: "validate", name: "Validate Password Reset", targeter: func(base string, _ bool) targeter {
			return targeter{base, func(r *hreq) error {
				tok := b.validatePool[mrand.IntN(len(b.validatePool))]
				*r = hreq{method: "GET", path: pathComplete + "?token=" + tok}
				return nil
			}}
		}},
		{key: "login", name: "Login", hashBound: true, targeter: func(base string, _ bool) targeter {
			return targeter{base, func(r *hreq) error {
				*r = hreq{method: "POST", path: pathLogin, body: jsonBody(map[string]string{
					"username": userEmail(pick(b.loginUsers)), "password": benchPassword})}
				return nil
			}}
		}},
		{key: "complete", name: "Create New Password", hashBound: true, targeter: func(base string, bare bool) targeter {
			return targeter{base, func(r *hreq) error {
				tok := "AAAAAAAAAAAAAAAAAAAA"
				if !bare {
					i := b.completeNext.Add(1) - 1
					if i >= int64(len(b.completePool)) {
						return fmt.Errorf("token pool of %d exhausted", len(b.completePool))
					}
					tok = b.completePool[i]
				}
				*r = hreq{method: "POST", path: pathComplete, body: jsonBody(map[string]string{"password": newPassword, "token": tok})}
				return nil
			}}
		}, maxHits: func(bare bool) uint64 {
			if bare {
				return 0
			}
			return uint64(max(int64(len(b.completePool))-b.completeNext.Load(), 0))
		}},
		{key: "user", name: "Get User", targeter: func(base string, _ bool) targeter {
			return targeter{base, func(r *hreq) error {
				a := b.authPool[mrand.IntN(len(b.authPool))]
				*r = hreq{method: "GET", path: pathUser + a.uuid + "/", header: "Authorization: Token " + a.token}
				return nil
			}}
		}},
	}
	var eps []*endpoint
	for _, e := range all {
		if b.o.want(e.key) {
			eps = append(eps, e)
		}
	}
	return eps
}

// endpointByKey returns this run's endpoint of that key, nil if none.
func (b *bench) endpointByKey(key string) *endpoint {
	for _, e := range b.endpoints() {
		if e.key == key {
			return e
		}
	}
	return nil
}

// checkEndpoint picks the endpoint on which the generator is checked
// against wrk: Reset Password if measured, else the first one that is not
// hash-bound ("" if none).
func checkEndpoint(eps []*endpoint) string {
	key := ""
	for _, e := range eps {
		if e.key == "reset" {
			return e.key
		}
		if !e.hashBound && key == "" {
			key = e.key
		}
	}
	return key
}

// makePools creates, through the API, the live tokens the attacks use.
func (b *bench) makePools(ctx context.Context, eps []*endpoint) error {
	need := func(key string) bool {
		return slices.ContainsFunc(eps, func(e *endpoint) bool { return e.key == key })
	}
	if need("validate") {
		n := min(2000, b.validateUsers[1]-b.validateUsers[0])
		pool, err := b.resetTokens(ctx, b.proc.url, b.validateUsers[0], n)
		if err != nil {
			return fmt.Errorf("validate pool: %w", err)
		}
		b.validatePool = pool
	}
	if need("complete") {
		secs := b.o.Duration.Seconds() + b.o.FixedDuration.Seconds()
		n := min(int(1.5*b.hashBound()*secs)+100, b.completeUsers[1]-b.completeUsers[0])
		pool, err := b.resetTokens(ctx, b.proc.url, b.completeUsers[0], n)
		if err != nil {
			return fmt.Errorf("complete pool: %w", err)
		}
		b.completePool = pool
	}
	if need("user") {
		n := min(50, b.authUsers[1]-b.authUsers[0])
		for i := range n {
			var resp struct {
				AuthToken string `json:"auth_token"`
				UserUUID  string `json:"user_uuid"`
			}
			err := postJSON(ctx, b.proc.url+pathLogin, map[string]string{
				"username": userEmail(b.authUsers[0] + i), "password": benchPassword}, &resp)
			if err != nil {
				return fmt.Errorf("auth pool: %w", err)
			}
			b.authPool = append(b.authPool, authToken{resp.AuthToken, resp.UserUUID})
		}
	}
	logf("pools: %d validate, %d complete, %d auth tokens", len(b.validatePool), len(b.completePool), len(b.authPool))
	return nil
}

// resetTokens asks Reset Password for users lo..lo+n-1, 16 at a time, and
// returns the tokens.
func (b *bench) resetTokens(ctx context.Context, base string, lo, n int) ([]string, error) {
	out := make([]string, n)
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		first error
		mu    sync.Mutex
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var resp struct {
					ResetToken string `json:"reset_token"`
				}
				if err := postJSON(ctx, base+pathReset, map[string]string{"email": userEmail(lo + i)}, &resp); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				out[i] = resp.ResetToken
			}
		}()
	}
	wg.Wait()
	return out, first
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

func postJSON(ctx context.Context, url string, in, out any) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := apiClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, data)
	}
	return json.Unmarshal(data, out)
}

// measure runs an endpoint's attacks: for each number of connections,
// the bare server and cruxd at saturation in alternating pairs (with wrk
// on the bare server first in each pair for the generator's check), then
// cruxd at a fixed rate.
func (b *bench) measure(ctx context.Context, e *endpoint, check bool) {
	conns, pairs := b.o.conns, b.o.Pairs
	if e.hashBound {
		// One pair: Create New Password's token pool is sized for it.
		conns, pairs, check = []int{b.o.HashWorkers}, 1, false
	}
	const timeout = 10 * time.Second
	spec := func(base string, bare bool, rate, workers int) attackSpec {
		s := attackSpec{name: e.key, targeter: e.targeter(base, bare), rate: rate, workers: workers,
			duration: b.o.Duration, timeout: timeout}
		if e.maxHits != nil {
			s.maxHits = e.maxHits(bare)
		}
		if rate > 0 {
			s.duration, s.workers = b.o.FixedDuration, 1000
		}
		return s
	}
	for _, c := range conns {
		run := &satRun{conns: c}
		e.sat = append(e.sat, run)
		for i := range pairs {
			if ctx.Err() != nil {
				return
			}
			if check {
				rps, err := b.runWrk(e, c)
				run.wrk = append(run.wrk, rps)
				if err != nil {
					run.wrkErr = err
					logf("%s: wrk: %v", e.name, err)
				} else {
					logf("%s: wrk -t2 -c%d on the bare server: %.0f req/s", e.name, c, rps)
				}
			}
			bare := runAttack(spec(b.bareProc.url, true, 0, c), b.bareProc.pid())
			run.bare = append(run.bare, bare)
			logf("%s: bare server, %d connections, pair %d: %.0f req/s", e.name, c, i+1, bare.throughput())

			var prof sync.WaitGroup
			if b.pprofAddr != "" && i == 0 {
				prof.Add(1)
				go func() {
					defer prof.Done()
					secs := max(int(b.o.Duration.Seconds())-1, 1)
					b.saveProfile(fmt.Sprintf("profile?seconds=%d", secs), fmt.Sprintf("%s-c%d.cpu.pprof", e.key, c))
				}()
			}
			sat := runAttack(spec(b.proc.url, false, 0, c), b.proc.pid())
			prof.Wait()
			run.cruxd = append(run.cruxd, sat)
			logf("%s: cruxd, %d connections, pair %d: %.0f req/s (%.3f× bare), errors %s; per response: cruxd %s",
				e.name, c, i+1, sat.throughput(), sat.throughput()/bare.throughput(), sat.errorSummary(), sat.perOK())
		}
	}

	e.fixedRate = b.o.Rate
	if e.hashBound {
		e.fixedRate = b.o.HashRate
		if e.fixedRate <= 0 {
			e.fixedRate = max(int(b.hashBound()/2), 1)
		}
	}
	time.Sleep(time.Second) // let the queues drain
	logf("%s: cruxd at %d req/s for %v", e.name, e.fixedRate, b.o.FixedDuration)
	e.fixed = runAttack(spec(b.proc.url, false, e.fixedRate, 0), b.proc.pid())
	logf("  p50 %v p99 %v p99.9 %v, errors %s", e.fixed.quantile(0.5), e.fixed.quantile(0.99), e.fixed.quantile(0.999), e.fixed.errorSummary())
	time.Sleep(time.Second)
}

// satRun is an endpoint at saturation with one number of connections: the
// bare server and cruxd, alternately, once per pair.
type satRun struct {
	conns       int
	bare, cruxd []*stats
	wrk         []float64 // wrk's req/s on the bare server, one per pair; only for the check
	wrkErr      error
}

// meanThroughput is the mean of the attacks' successful answers per second.
func meanThroughput(ss []*stats) float64 {
	if len(ss) == 0 {
		return 0
	}
	sum := 0.0
	for _, s := range ss {
		sum += s.throughput()
	}
	return sum / float64(len(ss))
}

// ratio is cruxd's mean throughput over the bare server's.
func (r *satRun) ratio() float64 { return meanThroughput(r.cruxd) / meanThroughput(r.bare) }

// pairRatios lists each pair's cruxd ÷ bare, e.g. "0.21, 0.23".
func (r *satRun) pairRatios() string {
	var parts []string
	for i := range r.cruxd {
		parts = append(parts, fmt.Sprintf("%.3f", r.cruxd[i].throughput()/r.bare[i].throughput()))
	}
	return strings.Join(parts, ", ")
}

// most returns the run with the most connections.
func (e *endpoint) most() *satRun {
	var best *satRun
	for _, r := range e.sat {
		if best == nil || r.conns > best.conns {
			best = r
		}
	}
	return best
}

// at returns the run with c connections, nil if none.
func (e *endpoint) at(c int) *satRun {
	for _, r := range e.sat {
		if r.conns == c {
			return r
		}
	}
	return nil
}

// measureFlood sends Login at ten times the hash bound.
func (b *bench) measureFlood() {
	b.floodRate = int(math.Ceil(10 * b.hashBound()))
	logf("Login flood: %d req/s for %v", b.floodRate, b.o.FloodDuration)
	b.flood = runAttack(attackSpec{
		name:     "flood",
		targeter: b.endpointByKey("login").targeter(b.proc.url, false),
		rate:     b.floodRate, workers: 10 * b.floodRate, duration: b.o.FloodDuration, timeout: 5 * time.Second,
	}, b.proc.pid())
	logf("  ok %d, 503 %d (%d with Retry-After), max latency %v, peak RSS %s, errors %s",
		b.flood.ok, b.flood.n503, b.flood.retryAfter, b.flood.max(), mib(b.flood.peakRSS), b.flood.errorSummary())
}

// errNoProbe: the start-up is timed to the first Validate of a live token,
// and only a run measuring Validate makes those.
var errNoProbe = errors.New("not measured: the probe is a Validate, and -endpoints has no validate")

// measureStartup times cruxd from exec to its first successful response
// on the loaded database, several times, and keeps the runs sorted.
func (b *bench) measureStartup() {
	if b.o.StartupRuns <= 0 {
		return // not asked for: no row in the report
	}
	if len(b.validatePool) == 0 {
		b.startupErr = errNoProbe
		return
	}
	probe := pathComplete + "?token=" + b.validatePool[0]
	args := b.cruxdArgs(b.db)
	if b.pprofAddr != "" {
		args = args[:len(args)-2]
	}
	for range b.o.StartupRuns {
		d, err := timeStartup(b.cruxd, args, nil, b.log, probe)
		if err != nil {
			b.startupErr = err
			return
		}
		b.startups = append(b.startups, d)
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(b.startups)
	logf("start-up to first response: %v", b.startups)
}

// measureBaseline measures Reset Password and Validate on a fresh database
// of BaselineUsers users and no expired tokens.
func (b *bench) measureBaseline(ctx context.Context) error {
	db, err := b.newDatabase(ctx, "baseline.db")
	if err != nil {
		return err
	}
	if db.drop != nil && !b.o.Keep {
		defer db.drop()
	}
	if err := b.load(ctx, db, b.o.BaselineUsers, 0); err != nil {
		return err
	}
	proc, pool, resetUsers, validateUsers, pprofAddr := b.proc, b.validatePool, b.resetUsers, b.validateUsers, b.pprofAddr
	defer func() {
		b.proc, b.validatePool, b.resetUsers, b.validateUsers, b.pprofAddr = proc, pool, resetUsers, validateUsers, pprofAddr
	}()
	b.partition(b.o.BaselineUsers)
	b.pprofAddr = ""
	if err := b.startCruxd(db); err != nil {
		return err
	}
	defer b.proc.stop()
	n := min(2000, b.validateUsers[1]-b.validateUsers[0])
	if b.validatePool, err = b.resetTokens(ctx, b.proc.url, b.validateUsers[0], n); err != nil {
		return err
	}
	b.baseline = map[string]float64{}
	for _, e := range b.endpoints() {
		if e.key != "reset" && e.key != "validate" {
			continue
		}
		logf("baseline %s (%d users)", e.name, b.o.BaselineUsers)
		s := runAttack(attackSpec{name: e.key, targeter: e.targeter(b.proc.url, false), workers: slices.Max(b.o.conns),
			duration: b.o.Duration, timeout: 10 * time.Second}, b.proc.pid())
		b.baseline[e.key] = s.throughput()
		logf("  %.0f req/s", s.throughput())
		time.Sleep(time.Second)
	}
	return nil
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
