package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// attackSpec is one bounded attack: at a fixed rate, or as fast as workers
// allow (rate 0), for at most duration and at most maxHits requests.
type attackSpec struct {
	name     string
	targeter vegeta.Targeter
	rate     int // req/s; 0 = saturation
	workers  int // saturation: exactly this many in flight; fixed rate: at most
	duration time.Duration
	maxHits  uint64 // 0 = no bound besides duration
	timeout  time.Duration
	stop     <-chan struct{} // ends the attack early when closed
}

// stats summarizes one attack.
type stats struct {
	requests   int
	ok         int // 2xx
	elapsed    time.Duration
	codes      map[int]int // 0: transport error (refused, timeout, …)
	errs       map[string]int
	lat        []time.Duration
	n503       int
	retryAfter int // 503s that carried Retry-After
	peakRSS    int64
	usage      procUsage // the server's CPU time and page faults during the attack
	client     procUsage // cruxbench's own (the load generator's), on the same cores
}

// throughput is successful responses per second.
func (s *stats) throughput() float64 {
	if s == nil || s.elapsed <= 0 {
		return 0
	}
	return float64(s.ok) / s.elapsed.Seconds()
}

// quantile returns the q-quantile of the latencies (nearest rank).
func (s *stats) quantile(q float64) time.Duration {
	if s == nil || len(s.lat) == 0 {
		return 0
	}
	i := int(q*float64(len(s.lat))+0.5) - 1
	return s.lat[min(max(i, 0), len(s.lat)-1)]
}

func (s *stats) max() time.Duration {
	if s == nil || len(s.lat) == 0 {
		return 0
	}
	return s.lat[len(s.lat)-1]
}

// errorSummary lists the non-2xx responses by status, e.g. "503×12, 0×1".
func (s *stats) errorSummary() string {
	if s == nil {
		return "–"
	}
	var parts []string
	codes := make([]int, 0, len(s.codes))
	for c := range s.codes {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		if c/100 == 2 {
			continue
		}
		name := fmt.Sprint(c)
		if c == 0 {
			name = "conn/timeout"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, s.codes[c]))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

// perOK describes the cost of one successful response: the server's CPU
// time (of which system time) and minor page faults, and the load
// generator's CPU time, e.g. "27.1 ms CPU (3.2 ms sys), 790 faults; load
// generator 0.4 ms CPU".
func (s *stats) perOK() string {
	if s == nil || s.ok == 0 || s.usage == (procUsage{}) {
		return "–"
	}
	n := float64(s.ok)
	return fmt.Sprintf("%.1f ms CPU (%.1f ms sys), %.0f faults; load generator %.1f ms CPU",
		float64(s.usage.user+s.usage.sys)/1e6/n, float64(s.usage.sys)/1e6/n, float64(s.usage.minflt)/n,
		float64(s.client.user+s.client.sys)/1e6/n)
}

// maxHitsPacer stops an attack after max hits.
type maxHitsPacer struct {
	vegeta.Pacer
	max uint64
}

func (p maxHitsPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p.max > 0 && hits >= p.max {
		return 0, true
	}
	return p.Pacer.Pace(elapsed, hits)
}

// runAttack runs spec and summarizes it. pid, if > 0, is the process whose
// peak RSS during the attack is recorded.
func runAttack(spec attackSpec, pid int) *stats {
	var before procUsage
	if pid > 0 {
		resetPeakRSS(pid)
		before = readUsage(pid)
	}
	self := readUsage(os.Getpid())
	workers := uint64(spec.workers)
	opts := []func(*vegeta.Attacker){
		vegeta.Timeout(spec.timeout),
		vegeta.KeepAlive(true),
		vegeta.MaxBody(0),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.MaxWorkers(workers),
	}
	var pacer vegeta.Pacer = vegeta.ConstantPacer{Freq: spec.rate, Per: time.Second}
	if spec.rate == 0 {
		opts = append(opts, vegeta.Workers(workers), vegeta.Connections(spec.workers))
	} else {
		opts = append(opts, vegeta.Workers(min(workers, 32)), vegeta.Connections(spec.workers))
	}
	pacer = maxHitsPacer{pacer, spec.maxHits}
	a := vegeta.NewAttacker(opts...)
	if spec.stop != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-spec.stop:
				a.Stop()
			case <-done:
			}
		}()
	}

	s := &stats{codes: map[int]int{}, errs: map[string]int{}}
	var first, last time.Time
	for r := range a.Attack(spec.targeter, pacer, spec.duration, spec.name) {
		s.requests++
		s.codes[int(r.Code)]++
		if r.Code/100 == 2 {
			s.ok++
		}
		if r.Code == http.StatusServiceUnavailable {
			s.n503++
			if r.Headers.Get("Retry-After") != "" {
				s.retryAfter++
			}
		}
		if r.Code == 0 && r.Error != "" && len(s.errs) < 5 {
			s.errs[r.Error]++
		}
		s.lat = append(s.lat, r.Latency)
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if end := r.End(); end.After(last) {
			last = end
		}
	}
	s.elapsed = last.Sub(first)
	slices.Sort(s.lat)
	if pid > 0 {
		if st, err := procStatus(pid); err == nil {
			s.peakRSS = int64(st.VmHWM)
		}
		s.usage = readUsage(pid).sub(before)
	}
	s.client = readUsage(os.Getpid()).sub(self)
	return s
}
