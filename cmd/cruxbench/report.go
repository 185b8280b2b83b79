package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// report renders the run as markdown.
func (b *bench) report(eps []*endpoint) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }

	store := "SQLite (WAL, synchronous=FULL, group commit)"
	if b.db.postgres {
		store = "PostgreSQL " + redact(b.o.DB)
	}
	p("## cruxbench run\n\n")
	p("- machine: %s\n", machine(b.dir))
	loaded := fmt.Sprintf("loaded through the store in %v + %v", b.loadUsersTime.Round(time.Millisecond), b.loadTokenTime.Round(time.Millisecond))
	if b.reused {
		loaded = "loaded by an earlier run"
	}
	p("- store: %s; %d users, %d expired reset tokens (%s); fsync of 4 KiB here: %v (median)\n",
		store, b.users, b.expired, loaded, b.fsync.Round(time.Microsecond))
	p("- load: cruxbench's generator (one keep-alive connection per request in flight) over loopback in the same machine; saturation = %s connections (%d for hash-bound calls) for %v, bare server and cruxd alternating, %d pair(s); fixed rate for %v\n",
		b.o.Conns, b.o.HashWorkers, b.o.Duration, b.o.Pairs, b.o.FixedDuration)
	p("- load average (1/5/15 min) before and after the measurements: %s → %s\n", b.loadAvg[0], b.loadAvg[1])
	if b.o.PurgeDuring {
		p("- cruxd's periodic purge ran during every attack (serve %s)\n", strings.Join(purgeSoonArgs, " "))
	}
	p("- argon2id (m=19 MiB, t=2, p=1) in-process, median of 7 (the faster of the medians at the start and before Login): %v a hash → bound = %d cores ÷ hash = **%.1f/s**\n",
		b.hashTime.Round(10*time.Microsecond), b.cores, b.hashBound())
	if b.parHash > 0 {
		p("- argon2id on %d cores at once in-process, no server (for comparison, not the bound): %.1f/s = %.0f%% of the bound\n",
			b.cores, b.parHash, 100*b.parHash/b.hashBound())
	}
	p("\n")

	if e := b.endpointIn(eps, b.checkKey); e != nil {
		p("Generator check (%s on the bare server, alternating with wrk; the generator's ratios stand at ≥ %.0f%% of wrk):\n\n", e.name, 100*generatorCheck)
		p("| connections | wrk -t2 (req/s) | cruxbench generator (req/s) | generator ÷ wrk | |\n|---:|---:|---:|---:|---|\n")
		for _, r := range e.sat {
			if r.wrkErr != nil {
				p("| %d | error: %v | %.0f | – | **missed** |\n", r.conns, r.wrkErr, meanThroughput(r.bare))
				continue
			}
			w := mean(r.wrk)
			g := meanThroughput(r.bare)
			p("| %d | %s | %s | %.2f | %s |\n", r.conns, listRPS(r.wrk), listStatsRPS(r.bare), g/w, checkMet(g/w >= generatorCheck))
		}
		p("\n")
	}

	p("| Endpoint | connections | bare handler (req/s) | cruxd (req/s) | cruxd ÷ bare (per pair) | errors | cruxd CPU a response |\n")
	p("|---|---:|---:|---:|---|---|---:|\n")
	for _, e := range eps {
		for _, r := range e.sat {
			ratio := fmt.Sprintf("**%.3f** (%s)", r.ratio(), r.pairRatios())
			if e.hashBound {
				ratio += fmt.Sprintf("; **%.0f%% of hash bound**", 100*meanThroughput(r.cruxd)/b.hashBound())
			}
			var errs []string
			for _, s := range r.cruxd {
				errs = append(errs, s.errorSummary())
			}
			p("| %s | %d | %s | %s | %s | %s | %s |\n", e.name, r.conns, listStatsRPS(r.bare), listStatsRPS(r.cruxd), ratio,
				strings.Join(errs, ", "), cpuPerOK(r.cruxd))
		}
	}
	p("\n")
	p("| Endpoint | fixed rate | p50 | p99 | p99.9 | errors | peak RSS |\n|---|---:|---:|---:|---:|---|---:|\n")
	for _, e := range eps {
		peak := e.fixed.peakRSS
		for _, r := range e.sat {
			for _, s := range r.cruxd {
				peak = max(peak, s.peakRSS)
			}
		}
		p("| %s | %d/s | %s | %s | %s | %s | %s |\n", e.name, e.fixedRate,
			ms(e.fixed.quantile(0.5)), ms(e.fixed.quantile(0.99)), ms(e.fixed.quantile(0.999)), e.fixed.errorSummary(), mib(peak))
	}
	p("\n")
	for _, e := range eps {
		if e.hashBound {
			p("- %s at saturation, per response: cruxd %s (one hash alone: %v)\n", e.name, e.most().cruxd[0].perOK(), b.hashTime.Round(10*time.Microsecond))
		}
	}
	p("\n")

	p("| Target | Measured | |\n|---|---|---|\n")
	check := checkMet
	for _, e := range eps {
		switch e.key {
		case "reset", "validate":
			for _, r := range e.sat {
				want := ratioTarget(e.key, r.conns)
				p("| %s ≥ %.2f× bare at %d connections | %.3f× (%.0f / %.0f req/s) | %s |\n", e.name, want, r.conns, r.ratio(),
					meanThroughput(r.cruxd), meanThroughput(r.bare), check(r.ratio() >= want))
			}
			p99 := e.fixed.quantile(0.99)
			p("| %s p99 ≤ 5 ms at %d/s | %s (errors %s) | %s |\n", e.name, e.fixedRate, ms(p99), e.fixed.errorSummary(),
				check(p99 <= 5*time.Millisecond && e.fixed.ok == e.fixed.requests))
		case "login", "complete":
			t := meanThroughput(e.most().cruxd)
			r := t / b.hashBound()
			p("| %s ≥ 85%% of cores ÷ hash | %.0f%% (%.1f / %.1f per s) | %s |\n", e.name, 100*r, t, b.hashBound(), check(r >= 0.85))
		}
	}
	if f := b.flood; f != nil {
		rejected := f.requests - f.ok
		p("| Login flood at %d/s for %v: RSS < 256 MiB | peak %s | %s |\n", b.floodRate, b.o.FloodDuration, mib(f.peakRSS), check(f.peakRSS < 256<<20))
		p("| flood: excess gets 503 + Retry-After | %d sent, %d ok, %d × 503 (%d with Retry-After), other errors %s | %s |\n",
			f.requests, f.ok, f.n503, f.retryAfter, nonOK503(f), check(f.n503 == rejected && f.retryAfter == f.n503))
		p("| flood: every answer within 2 s, none hangs | max latency %s, %d timeouts | %s |\n",
			ms(f.max()), f.codes[0], check(f.max() <= 2*time.Second && f.codes[0] == 0))
	}
	p("| idle RSS < 30 MiB | %s | %s |\n", mib(b.idleRSS), check(b.idleRSS < 30<<20))
	if errors.Is(b.startupErr, errNoProbe) {
		p("| start-up < 200 ms | %v | – |\n", b.startupErr)
	} else if b.startupErr != nil {
		p("| start-up < 200 ms | error: %v | **missed** |\n", b.startupErr)
	} else if len(b.startups) > 0 {
		med := b.startups[len(b.startups)/2]
		var all []string
		for _, d := range b.startups {
			all = append(all, ms(d))
		}
		p("| start-up to first response < 200 ms (median of %d) | %s (runs: %s) | %s |\n", len(b.startups), ms(med), strings.Join(all, ", "), check(med < 200*time.Millisecond))
	}
	for _, e := range eps {
		if base, ok := b.baseline[e.key]; ok {
			t := meanThroughput(e.most().cruxd)
			fall := 1 - t/base
			p("| %s falls < 15%% from %d users to %d users + %d expired tokens (%d connections) | %.1f%% (%.0f → %.0f req/s) | %s |\n",
				e.name, b.o.BaselineUsers, b.users, b.expired, e.most().conns, 100*fall, base, t, check(fall < 0.15))
		}
	}
	if r := b.purge; r != nil {
		if r.err != nil {
			p("| %s removes the expired rows without stalling traffic | error: %v %s | **missed** |\n", r.what, r.err, strings.TrimSpace(r.output))
		} else {
			t := r.traffic
			p("| %s removes %d expired rows without stalling traffic (no error, none over 1 s) | %d reset tokens purged in %v (%.0f rows/s); Reset Password at %d/s meanwhile: p50 %s, p99 %s, max %s, errors %s | %s |\n",
				r.what, b.expired, r.tokens, r.took.Round(time.Second), float64(r.tokens)/r.took.Seconds(), b.o.Rate, ms(t.quantile(0.5)), ms(t.quantile(0.99)), ms(t.max()), t.errorSummary(),
				check(t.ok == t.requests && t.max() <= time.Second))
		}
	}
	p("\n")
	return w.String()
}

// ratioTarget is the least cruxd ÷ bare the report checks for an endpoint
// at conns connections: for SQLite's Reset Password 0.20 at up to 16
// connections and 0.25 beyond; 0.30 for Validate.
func ratioTarget(key string, conns int) float64 {
	switch {
	case key == "reset" && conns <= 16:
		return 0.20
	case key == "reset":
		return 0.25
	default:
		return 0.30
	}
}

func checkMet(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (b *bench) endpointIn(eps []*endpoint, key string) *endpoint {
	for _, e := range eps {
		if e.key == key {
			return e
		}
	}
	return nil
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// listRPS renders req/s figures, e.g. "47858, 49120".
func listRPS(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(parts, ", ")
}

func listStatsRPS(ss []*stats) string {
	var xs []float64
	for _, s := range ss {
		xs = append(xs, s.throughput())
	}
	return listRPS(xs)
}

// cpuPerOK is the server's CPU time per successful answer over attacks.
func cpuPerOK(ss []*stats) string {
	var cpu time.Duration
	ok := 0
	for _, s := range ss {
		cpu += s.usage.user + s.usage.sys
		ok += s.ok
	}
	if ok == 0 || cpu == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f µs", float64(cpu)/1e3/float64(ok))
}

func nonOK503(s *stats) string {
	n := 0
	for c, k := range s.codes {
		if c/100 != 2 && c != 503 {
			n += k
		}
	}
	return fmt.Sprint(n)
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
}

// machine describes the CPU, memory, Go version and the disk under dir.
func machine(dir string) string {
	cpu := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(data), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s, %s, %s/%s; disk: %s",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, disk(dir))
}

// disk names the device and file system holding dir.
func disk(dir string) string {
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "?"
	}
	best, dev, fs := "", "?", "?"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if strings.HasPrefix(dir, f[1]) && len(f[1]) > len(best) {
			best, dev, fs = f[1], f[0], f[2]
		}
	}
	kind := ""
	name := strings.TrimPrefix(dev, "/dev/")
	for len(name) > 0 && name[len(name)-1] >= '0' && name[len(name)-1] <= '9' {
		name = name[:len(name)-1]
	}
	if rot, err := os.ReadFile("/sys/block/" + name + "/queue/rotational"); err == nil {
		if strings.TrimSpace(string(rot)) == "0" {
			kind = ", non-rotational"
		} else {
			kind = ", rotational"
		}
	}
	if strings.HasPrefix(name, "vd") {
		kind += " virtio block device"
	}
	var st syscall.Statfs_t
	size := ""
	if syscall.Statfs(dir, &st) == nil {
		size = fmt.Sprintf(", %.0f GiB", float64(st.Blocks)*float64(st.Bsize)/(1<<30))
	}
	return fmt.Sprintf("%s (%s%s%s) for %s", dev, fs, kind, size, dir)
}
