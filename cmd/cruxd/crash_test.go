package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

var (
	crashKills = flag.Int("crash-kills", 20, "TestCrash*: SIGKILLs per store")
	crashSeed  = flag.Uint64("crash-seed", 0, "TestCrash*: seed of the kill timing (0: from the clock)")
)

// crashStore is a database kind the crash tests run on.
type crashStore struct {
	name string
	db   func(t *testing.T) string
}

func crashStores() []crashStore {
	return []crashStore{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "cruxd.db") }},
		{"postgres", func(t *testing.T) string { return testenv.PostgresDSN(t) }},
	}
}

func crashRand(t *testing.T) *rand.Rand {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("kill timing seed %d (rerun with -crash-seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, 0x5eed))
}

// crashClient has no keep-alive reuse across processes worth having and a
// bound on every call.
var crashClient = &http.Client{Timeout: 20 * time.Second}

// call sends one JSON request with header's name, value pairs; err is a
// transport failure (the process died under it), when the outcome is
// unknown.
func call(base, method, path string, body any, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := crashClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// acct is what the test knows for certain about one account: the tokens
// acknowledged with 200 and not legitimately retired since (oldest first),
// the password of the last 204, and the one operation whose outcome the
// kill left unknown.
type acct struct {
	email    string
	password string   // "" while the account has none
	live     []string // acknowledged, not retired, oldest first
	pending  *op      // in flight when the process died
}

type op struct {
	kind     string // "reset" or "complete"
	token    string // complete: the token used
	password string // complete: the new password
}

// crashStats are the figures of one run.
type crashStats struct {
	kills, killsInFlight, acked200, acked204, checkedTokens, checkedLogins int
}

// sandboxTraffic is the sandbox side of a crash run: two accounts driven
// by Reset Password and Create New Password, and what the test knows of
// them.
type sandboxTraffic struct {
	accts []*acct
	mu    sync.Mutex // guards st while traffic runs
	st    crashStats
}

func newSandboxTraffic() *sandboxTraffic {
	return &sandboxTraffic{accts: []*acct{{email: roy, password: royOldPW}, {email: bailey}}}
}

// verify checks every account against a restarted process and ends the
// test, naming when, if anything acknowledged was lost.
func (s *sandboxTraffic) verify(t *testing.T, p *cruxdtest.Process, when string) {
	t.Helper()
	for _, a := range s.accts {
		verifyAfterRestart(t, p.URL, a, &s.st)
	}
	if t.Failed() {
		t.Fatalf("%s: acknowledged state lost\nstderr:\n%s", when, p.Stderr())
	}
}

// run starts the traffic of each account on wg; it ends when p dies.
func (s *sandboxTraffic) run(t *testing.T, wg *sync.WaitGroup, p *cruxdtest.Process, cycle int, rng *rand.Rand) {
	seeds := [2]uint64{rng.Uint64(), rng.Uint64()}
	for i, a := range s.accts {
		wg.Go(func() {
			drive(t, p.URL, a, cycle, rand.New(rand.NewPCG(seeds[i], uint64(cycle))), &s.mu, &s.st)
		})
	}
}

// killed counts a kill, once the traffic has ended.
func (s *sandboxTraffic) killed() {
	s.st.kills++
	if s.accts[0].pending != nil || s.accts[1].pending != nil {
		s.st.killsInFlight++
	}
}

// TestCrashSandbox drives Reset Password and Create New Password against a
// real cruxd, SIGKILLs it at random moments, restarts it on the same
// database and checks that nothing acknowledged was lost: every token
// answered with 200 is still live unless legitimately retired (spent,
// revoked by a password change, or beyond the newest 3), and every password
// answered with 204 logs in.
func TestCrashSandbox(t *testing.T) {
	t.Parallel()
	for _, cs := range crashStores() {
		t.Run(cs.name, func(t *testing.T) {
			t.Parallel()
			db := cs.db(t)
			rng := crashRand(t)
			sb := newSandboxTraffic()
			start := time.Now()
			for cycle := 0; cycle < *crashKills; cycle++ {
				p := cruxdtest.Start(t, []string{"--db", db})
				sb.verify(t, p, fmt.Sprintf("cycle %d, after a SIGKILL", cycle))
				// Traffic, then a SIGKILL at a random moment of it.
				delay := time.Duration(20+rng.IntN(800)) * time.Millisecond
				var wg sync.WaitGroup
				sb.run(t, &wg, p, cycle, rng)
				time.Sleep(delay)
				p.Kill()
				wg.Wait()
				sb.killed()
			}
			p := cruxdtest.Start(t, []string{"--db", db})
			sb.verify(t, p, "after the last SIGKILL")
			p.Stop(t)
			st := &sb.st
			t.Logf("%s: %d SIGKILLs survived (%d with a request in flight) in %v; acknowledged %d resets (200) and %d password changes (204); checked %d tokens and %d logins after restarts",
				cs.name, st.kills, st.killsInFlight, time.Since(start).Round(time.Second), st.acked200, st.acked204, st.checkedTokens, st.checkedLogins)
			if st.killsInFlight < st.kills/2 {
				t.Errorf("only %d of %d kills hit a request in flight", st.killsInFlight, st.kills)
			}
		})
	}
}

// drive runs reset and complete calls for a until the process dies.
func drive(t *testing.T, base string, a *acct, cycle int, rng *rand.Rand, mu *sync.Mutex, st *crashStats) {
	for n := 0; ; n++ {
		if len(a.live) == 0 || rng.IntN(10) < 6 {
			a.pending = &op{kind: "reset"}
			status, body, err := call(base, "POST", "/organizations/reset-password/", map[string]string{"email": a.email})
			if err != nil {
				return
			}
			a.pending = nil
			var got struct {
				ResetToken string `json:"reset_token"`
			}
			if status != 200 || json.Unmarshal(body, &got) != nil || !resetTokenRE.MatchString(got.ResetToken) {
				t.Errorf("reset %s: %d %s", a.email, status, body)
				return
			}
			a.live = append(a.live, got.ResetToken)
			if len(a.live) > 3 {
				a.live = a.live[1:] // the newest-3 rule retired the oldest
			}
			mu.Lock()
			st.acked200++
			mu.Unlock()
			continue
		}
		tok := a.live[rng.IntN(len(a.live))]
		pw := fmt.Sprintf("crash test %d password %d %d", cycle, n, rng.IntN(1e6))
		a.pending = &op{kind: "complete", token: tok, password: pw}
		status, body, err := call(base, "POST", "/organizations/complete-password/", map[string]string{"token": tok, "password": pw})
		if err != nil {
			return
		}
		a.pending = nil
		if status != 204 {
			t.Errorf("complete %s with a live token: %d %s", a.email, status, body)
			return
		}
		a.password, a.live = pw, nil // the token spent, the others revoked
		mu.Lock()
		st.acked204++
		mu.Unlock()
	}
}

// verifyAfterRestart checks a against the restarted process and settles the
// operation the kill left unknown.
func verifyAfterRestart(t *testing.T, base string, a *acct, st *crashStats) {
	t.Helper()
	mayBeGone := map[string]bool{}
	if p := a.pending; p != nil {
		switch p.kind {
		case "reset":
			// It may have committed: its token (unknown to us) then retired
			// the oldest one we know.
			if len(a.live) == 3 {
				mayBeGone[a.live[0]] = true
			}
		case "complete":
			// Either it committed (the new password works, every token
			// is retired) or it did not (nothing changed).
			if loginStatus(t, base, a.email, p.password) == 200 {
				a.password, a.live = p.password, nil
			}
			st.checkedLogins++
		}
	}
	var live []string
	for _, tok := range a.live {
		status, body, err := call(base, "GET", "/organizations/complete-password/?token="+tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.checkedTokens++
		switch {
		case status == 200:
			live = append(live, tok)
		case status == 404 && mayBeGone[tok]:
		default:
			t.Errorf("%s: token acknowledged with 200 (%d of %d known) is gone after restart: %d %s (pending %+v)",
				a.email, indexOf(a.live, tok), len(a.live), status, body, a.pending)
		}
	}
	a.live = live
	if a.password != "" {
		if s := loginStatus(t, base, a.email, a.password); s != 200 {
			t.Errorf("%s: the password of the last 204 does not log in after restart: %d (pending %+v)", a.email, s, a.pending)
		}
		st.checkedLogins++
	}
	// An unknown token may be live now; it only ever makes the newest-3 rule
	// retire more of ours, which mayBeGone allows for exactly one pending
	// reset. Start the next cycle from a known state: three fresh tokens
	// whenever a reset was pending.
	if a.pending != nil && a.pending.kind == "reset" {
		a.live = nil
		for range 3 {
			status, body, err := call(base, "POST", "/organizations/reset-password/", map[string]string{"email": a.email})
			var got struct {
				ResetToken string `json:"reset_token"`
			}
			if err != nil || status != 200 || json.Unmarshal(body, &got) != nil {
				t.Fatalf("reset %s: %d %s %v", a.email, status, body, err)
			}
			a.live = append(a.live, got.ResetToken)
			st.acked200++
		}
	}
	a.pending = nil
}

func loginStatus(t *testing.T, base, user, pw string) int {
	t.Helper()
	status, _, err := call(base, "POST", "/organizations/user-login/", map[string]string{"username": user, "password": pw})
	if err != nil {
		t.Fatal(err)
	}
	return status
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// seedDemo fills an empty database (a SQLite path or a postgres:// DSN)
// with the sandbox demo accounts by running a sandbox cruxd on it once;
// production seeds nothing.
func seedDemo(t *testing.T, db string) {
	t.Helper()
	startSandbox(t, db).Stop(t)
}

// TestCrashProduction: production cruxd with a real Mailpit, SIGKILLed at
// random moments while Reset Password calls flow for two known addresses
// and Create New Password calls use mailed tokens. After the last restart
// every acknowledged reset has been mailed (at least once; duplicates are
// counted and reported), every password-changed mail of a 204 too, and the
// password of the last 204 logs in after every restart.
func TestCrashProduction(t *testing.T) {
	t.Parallel()
	for _, cs := range crashStores() {
		t.Run(cs.name, func(t *testing.T) {
			t.Parallel()
			db := cs.db(t)
			seedDemo(t, db)
			mp := testenv.StartMailpit(t)
			args := []string{"--mode", "production", "--db", db, "--public-url", prodPublicURL, "--smtp-url", mp.SMTPURL(),
				"--limit-reset-mails", "0", "--limit-reset-calls", "0", "--limit-login-ip", "0", "--limit-login-calls", "0", "--limit-login-account", "0",
				"--limit-login-account-hour", "0",
				"--mail-retry-min", "100ms", "--mail-lease", "2s"}
			rng := crashRand(t)
			type addrState struct {
				email           string
				acked, pending  int // resets answered 200; resets the kill left unknown
				password        string
				changed         int // completes answered 204
				pendingComplete *op
			}
			addrs := []*addrState{{email: roy, password: royOldPW}, {email: bailey}}
			used := map[string]bool{}
			var kills, inFlight, retired int
			start := time.Now()
			for cycle := 0; cycle < *crashKills; cycle++ {
				p := cruxdtest.Start(t, args)
				b := addrs[1]
				if pc := b.pendingComplete; pc != nil {
					if loginStatus(t, p.URL, b.email, pc.password) == 200 {
						b.password = pc.password
						b.changed++ // it committed: its mail is due too
					}
					b.pendingComplete = nil
				}
				for _, a := range addrs {
					if a.password != "" {
						if s := loginStatus(t, p.URL, a.email, a.password); s != 200 {
							t.Fatalf("cycle %d: %s: the password of the last 204 does not log in after restart: %d", cycle, a.email, s)
						}
					}
				}
				// The newest reset mail to Bailey not used yet, if any.
				var tok string
				for _, m := range slices.Backward(mp.Messages(t)) {
					if strings.HasPrefix(m.Subject, "Reset your") && slices.Contains(m.To, bailey) {
						if mt := mailTokenRE.FindStringSubmatch(mp.Message(t, m.ID).Text); mt != nil && !used[mt[1]] {
							tok = mt[1]
						}
						break
					}
				}
				delay := time.Duration(20+rng.IntN(800)) * time.Millisecond
				completeAt := time.Duration(rng.IntN(int(delay/time.Millisecond)+1)) * time.Millisecond
				var wg sync.WaitGroup
				for _, a := range addrs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							status, body, err := call(p.URL, "POST", "/organizations/reset-password/", map[string]string{"email": a.email})
							if err != nil {
								a.pending++
								return
							}
							if status != 200 {
								t.Errorf("reset %s: %d %s", a.email, status, body)
								return
							}
							a.acked++
							// Paced: a steady flow of mail, and few tokens for
							// Bailey, so the mailed one is not retired before
							// it is used.
							if a.email == bailey {
								time.Sleep(100 * time.Millisecond)
							} else {
								time.Sleep(10 * time.Millisecond)
							}
						}
					}()
				}
				if tok != "" {
					used[tok] = true
					wg.Add(1)
					go func() {
						defer wg.Done()
						time.Sleep(completeAt)
						pw := fmt.Sprintf("production crash %d %d", cycle, rng.IntN(1e9))
						status, body, err := call(p.URL, "POST", "/organizations/complete-password/", map[string]string{"token": tok, "password": pw})
						switch {
						case err != nil:
							b.pendingComplete = &op{kind: "complete", token: tok, password: pw}
						case status == 204:
							b.password = pw
							b.changed++
						case status == 404: // retired by newer tokens meanwhile
							retired++
						default:
							t.Errorf("complete with a mailed token: %d %s", status, body)
						}
					}()
				}
				time.Sleep(delay)
				p.Kill()
				wg.Wait()
				kills++
				if addrs[0].pending+addrs[1].pending > 0 || b.pendingComplete != nil {
					inFlight++
				}
			}

			// Last start: everything acknowledged must be mailed.
			p := cruxdtest.Start(t, args)
			if pc := addrs[1].pendingComplete; pc != nil && loginStatus(t, p.URL, bailey, pc.password) == 200 {
				addrs[1].changed++
			}
			count := func() (resets map[string]int, changed int) {
				resets = map[string]int{}
				for _, m := range mp.Messages(t) {
					for _, a := range addrs {
						if slices.Contains(m.To, a.email) {
							if strings.HasPrefix(m.Subject, "Reset your") {
								resets[a.email]++
							} else if a.email == bailey {
								changed++
							}
						}
					}
				}
				return resets, changed
			}
			deadline := time.Now().Add(90 * time.Second)
			for {
				resets, changed := count()
				if resets[roy] >= addrs[0].acked && resets[bailey] >= addrs[1].acked && changed >= addrs[1].changed {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("mail lost: reset mails %v for acknowledged roy %d, bailey %d; password-changed mails %d for %d 204s\nlog:\n%s",
						resets, addrs[0].acked, addrs[1].acked, changed, addrs[1].changed, tail(p.Stderr(), 3000))
				}
				time.Sleep(200 * time.Millisecond) // polling Mailpit
			}
			time.Sleep(3 * time.Second) // let late duplicates arrive
			resets, changed := count()
			p.Stop(t)
			for _, a := range addrs {
				dup := resets[a.email] - a.acked - a.pending
				t.Logf("%s: %d resets acknowledged, %d unknown at a kill; %d reset mails received (%d beyond at-least-once)",
					a.email, a.acked, a.pending, resets[a.email], max(dup, 0))
			}
			t.Logf("%s: %d SIGKILLs survived (%d with a call in flight) in %v; %d password changes (204) held (%d mailed tokens already retired: 404), %d password-changed mails received",
				cs.name, kills, inFlight, time.Since(start).Round(time.Second), addrs[1].changed, retired, changed)
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
