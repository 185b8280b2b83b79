package main

import (
	"flag"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/testenv"
)

var mailKills = flag.Int("mail-kills", 2, "TestMailKilledMidSend: SIGKILLs per store")

// takeoverBound is how long after its sender was killed a mail may arrive:
// the lease (15 s by default, renewed while the sender lives) plus the
// other process's poll (5 s) and the send, with margin.
const takeoverBound = 30 * time.Second

// TestMailKilledMidSend: two production processes share one database and
// one Mailpit, with the default mail lease; one of them takes a steady
// flow of reset requests and is SIGKILLed while it sends. Every
// acknowledged reset is mailed; a mail sent twice (the kill fell between
// the server's acceptance and its record) carries the same Message-ID both
// times; and the killed process's mail goes out through the other one
// within takeoverBound of the kill.
func TestMailKilledMidSend(t *testing.T) {
	t.Parallel()
	for _, cs := range crashStores() {
		t.Run(cs.name, func(t *testing.T) {
			t.Parallel() // each kill waits for a lease to lapse
			db := cs.db(t)
			seedDemo(t, db)
			mp := testenv.StartMailpit(t)
			args := []string{"--mode", "production", "--db", db, "--public-url", prodPublicURL, "--smtp-url", mp.SMTPURL(),
				"--limit-reset-mails", "0", "--limit-reset-calls", "0"}
			other := cruxdtest.Start(t, append(args, "--metrics-addr", "127.0.0.1:0"))
			rng := crashRand(t)
			var acked, unknown, received, dups int
			var latest time.Duration // latest arrival after a kill
			for kill := 0; kill < *mailKills; kill++ {
				p := cruxdtest.Start(t, args)
				before := len(mp.Messages(t))
				var stop atomic.Bool
				var wg sync.WaitGroup
				var n, lost atomic.Int64
				for range 2 { // more requests than one worker mails: it always has mail in hand
					wg.Go(func() {
						for !stop.Load() {
							status, body, err := call(p.URL, "POST", "/organizations/reset-password/", map[string]string{"email": roy})
							switch {
							case err != nil:
								lost.Add(1)
								return
							case status != 200:
								t.Errorf("reset: %d %s", status, body)
								return
							}
							n.Add(1)
						}
					})
				}
				// Kill once mail flows, at a random moment of it.
				deadline := time.Now().Add(30 * time.Second)
				for len(mp.Messages(t)) < before+5 {
					if time.Now().After(deadline) {
						t.Fatalf("no mail flows within 30s\n%s", tail(p.Stderr(), 3000))
					}
					time.Sleep(20 * time.Millisecond) // polling Mailpit
				}
				time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
				killedAt := time.Now()
				p.Kill()
				stop.Store(true)
				wg.Wait()
				acked, unknown = acked+int(n.Load()), unknown+int(lost.Load())

				// Nothing more can arrive once the outbox holds no
				// pending message: the killed process is gone and no
				// request comes in.
				waitMetric(t, other, `cruxd_mails_pending`, func(v float64) bool { return v == 0 })
				msgs := mp.Messages(t)
				for _, m := range msgs[before:] {
					if late := m.Created.Sub(killedAt); late > latest {
						latest = late
					}
				}
				ids := map[string]int{}
				for _, m := range msgs {
					if !slices.Contains(m.To, roy) || !strings.HasPrefix(m.Subject, "Reset your") {
						t.Fatalf("unexpected mail %+v", m)
					}
					ids[m.MessageID]++
				}
				received, dups = len(msgs), len(msgs)-len(ids)
				if len(ids) < acked || len(ids) > acked+unknown {
					t.Fatalf("kill %d: %d distinct Message-IDs for %d acknowledged resets (%d unknown at a kill): a mail lost, or a repeat with a new Message-ID",
						kill, len(ids), acked, unknown)
				}
				if latest > takeoverBound {
					t.Fatalf("kill %d: a mail arrived %v after its sender was killed, want within %v", kill, latest, takeoverBound)
				}
			}
			t.Logf("%s: %d SIGKILLs mid-send, %d resets acknowledged (%d unknown at a kill), %d mails received, %d of them repeats with their Message-ID; latest arrival %v after a kill",
				cs.name, *mailKills, acked, unknown, received, dups, latest.Round(time.Millisecond))
		})
	}
}
