package main

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
	"github.com/cruxd/cruxd/internal/testenv/powerfs"
)

// The production resets come through a trusted proxy from a client address
// that numbers them; the reset mail names the address, so each acknowledged
// request can be found in the mail.
func powerLossIP(n int) string { return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255) }

var powerLossIPRE = regexp.MustCompile(`IP address 10\.(\d+)\.(\d+)\.(\d+)`)

// TestPowerLoss cuts the power under two cruxd processes whose SQLite
// databases sit on powerfs, a file system that loses every write not yet
// fsynced: a sandbox one driven by Reset Password and Create New Password,
// and a production one whose Reset Password calls queue mail for a real
// Mailpit. At random moments both are SIGKILLed and the power is cut; after
// each cut PRAGMA integrity_check passes on both databases, and after each
// restart every reset token answered with 200 is still live unless
// legitimately retired, every password answered with 204 logs in, and in
// the end every production reset answered with 200 has been mailed.
func TestPowerLoss(t *testing.T) {
	t.Parallel()
	disk := powerfs.NewDisk(t)
	sandboxDB, prodDB := disk.Path("sandbox.db"), disk.Path("production.db")
	seedDemo(t, prodDB)
	mp := testenv.StartMailpit(t)
	sandboxArgs := []string{"--db", sandboxDB}
	prodArgs := []string{"--mode", "production", "--db", prodDB, "--public-url", prodPublicURL, "--smtp-url", mp.SMTPURL(),
		"--limit-reset-mails", "0", "--limit-reset-calls", "0", "--limit-login-ip", "0", "--limit-login-account", "0",
		"--mail-retry-min", "100ms", "--mail-lease", "2s", "--trusted-proxy", "127.0.0.1/32"}
	rng := crashRand(t)
	sb := newSandboxTraffic()
	var (
		mu         sync.Mutex // guards the production figures while traffic runs
		seq        int
		mailAcked  = map[int]bool{} // production resets answered 200, by client address number
		mailUnsure int              // production resets a kill left unknown
		cutLost    = map[string]int64{}
		cutsWAL    int // cuts that dropped unsynced bytes of a -wal file
	)
	start := time.Now()
	for cycle := 0; cycle < *crashKills; cycle++ {
		sp := cruxdtest.Start(t, sandboxArgs)
		prod := cruxdtest.Start(t, prodArgs)
		sb.verify(t, sp, fmt.Sprintf("cycle %d, after a power cut", cycle))
		delay := time.Duration(20+rng.IntN(800)) * time.Millisecond
		var wg sync.WaitGroup
		sb.run(t, &wg, sp, cycle, rng)
		// Production: one reset after another for each address, paced so
		// that the mails stay few.
		for _, a := range sb.accts {
			wg.Go(func() {
				for {
					mu.Lock()
					seq++
					n := seq
					mu.Unlock()
					status, body, err := call(prod.URL, "POST", "/organizations/reset-password/", map[string]string{"email": a.email},
						"X-Forwarded-For", powerLossIP(n))
					mu.Lock()
					switch {
					case err != nil:
						mailUnsure++
					case status == 200:
						mailAcked[n] = true
					default:
						t.Errorf("production reset %s: %d %s", a.email, status, body)
					}
					mu.Unlock()
					if err != nil || status != 200 {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		time.Sleep(delay)
		sp.Kill()
		prod.Kill()
		wg.Wait()
		sb.killed()
		lost := disk.Cut()
		for name, n := range lost {
			cutLost[name] += n
		}
		if lost["sandbox.db-wal"]+lost["production.db-wal"] > 0 {
			cutsWAL++
		}
		for _, db := range []string{sandboxDB, prodDB} {
			if err := integrityCheck(db); err != nil {
				t.Fatalf("cycle %d: %s after the power cut: %v", cycle, filepath.Base(db), err)
			}
		}
	}

	sp := cruxdtest.Start(t, sandboxArgs)
	sb.verify(t, sp, "after the last power cut")
	sp.Stop(t)
	prod := cruxdtest.Start(t, prodArgs)
	// Every acknowledged production reset is mailed, at least once. The
	// mail names the request's client address.
	mailed := map[int]bool{}
	read := map[string]bool{}
	var missing []int
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, m := range mp.Messages(t) {
			if read[m.ID] || !strings.HasPrefix(m.Subject, "Reset your") {
				continue
			}
			read[m.ID] = true
			if ip := powerLossIPRE.FindStringSubmatch(mp.Message(t, m.ID).Text); ip != nil {
				a, _ := strconv.Atoi(ip[1])
				b, _ := strconv.Atoi(ip[2])
				c, _ := strconv.Atoi(ip[3])
				mailed[a<<16|b<<8|c] = true
			}
		}
		missing = missing[:0]
		for n := range mailAcked {
			if !mailed[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling Mailpit
	}
	prod.Stop(t)
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("%d of %d production resets answered 200 were never mailed (client address numbers %v)\nlog:\n%s",
			len(missing), len(mailAcked), missing, tail(prod.Stderr(), 3000))
	}
	st := &sb.st
	t.Logf("%d power cuts (%d with a sandbox request in flight, %d dropping unsynced WAL bytes) in %v; unsynced bytes dropped in all: %v",
		st.kills, st.killsInFlight, cutsWAL, time.Since(start).Round(time.Second), cutLost)
	t.Logf("sandbox: acknowledged %d resets (200) and %d password changes (204); checked %d tokens and %d logins after restarts",
		st.acked200, st.acked204, st.checkedTokens, st.checkedLogins)
	t.Logf("production: %d resets answered 200 (%d unknown at a kill), %d reset mails received, %d acknowledged ones missing",
		len(mailAcked), mailUnsure, len(read), len(missing))
}

// integrityCheck copies the SQLite database at path, as a power cut left it
// (the database file and its WAL), and runs PRAGMA integrity_check on the
// copy; cruxd then recovers the original itself.
func integrityCheck(path string) error {
	dir, err := os.MkdirTemp("", "cruxd-powerloss-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	copyPath := filepath.Join(dir, "cruxd.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, fs.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(copyPath+suffix, b, 0o600); err != nil {
			return err
		}
	}
	db, err := sql.Open("sqlite", copyPath)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var res []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		res = append(res, line)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if len(res) != 1 || res[0] != "ok" {
		return fmt.Errorf("integrity_check: %s", strings.Join(res, "; "))
	}
	return nil
}
