package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// attackSpec is one bounded attack: at a fixed rate, or as fast as workers
// allow (rate 0), for at most duration and at most maxHits requests.
type attackSpec struct {
	name     string
	targeter targeter
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

// runAttack runs spec with cruxbench's generator (gen.go) and summarizes
// it. pid, if > 0, is the process whose peak RSS and CPU time during the
// attack are recorded.
func runAttack(spec attackSpec, pid int) *stats {
	var before procUsage
	if pid > 0 {
		resetPeakRSS(pid)
		before = readUsage(pid)
	}
	self := readUsage(os.Getpid())
	s := &stats{codes: map[int]int{}, errs: map[string]int{}}
	if err := generate(spec, s); err != nil {
		s.errs[err.Error()]++
		s.codes[0]++
		logf("%s: %v", spec.name, err)
	}
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
