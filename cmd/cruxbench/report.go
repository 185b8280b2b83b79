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
	p("- load: vegeta (library) over loopback in the same machine; saturation = %d requests in flight (%d for hash-bound calls) for %v; fixed rate for %v\n",
		b.o.Workers, b.o.HashWorkers, b.o.Duration, b.o.FixedDuration)
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

	p("| Endpoint | bare handler (req/s) | cruxd saturation (req/s) | ratio | fixed rate | p50 | p99 | p99.9 | errors (saturation / fixed) | peak RSS |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|\n")
	for _, e := range eps {
		ratio := fmt.Sprintf("%.0f%% of bare", 100*e.sat.throughput()/e.bare.throughput())
		if e.hashBound {
			ratio += fmt.Sprintf("; **%.0f%% of hash bound**", 100*e.sat.throughput()/b.hashBound())
		}
		p("| %s | %.0f | %.0f | %s | %d/s | %s | %s | %s | %s / %s | %s |\n",
			e.name, e.bare.throughput(), e.sat.throughput(), ratio, e.fixedRate,
			ms(e.fixed.quantile(0.5)), ms(e.fixed.quantile(0.99)), ms(e.fixed.quantile(0.999)),
			e.sat.errorSummary(), e.fixed.errorSummary(), mib(max(e.sat.peakRSS, e.fixed.peakRSS)))
	}
	p("\n")
	for _, e := range eps {
		if e.hashBound {
			p("- %s at saturation, per response: cruxd %s (one hash alone: %v)\n", e.name, e.sat.perOK(), b.hashTime.Round(10*time.Microsecond))
		}
	}
	p("\n")

	p("| Target | Measured | |\n|---|---|---|\n")
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	for _, e := range eps {
		switch e.key {
		case "reset", "validate":
			r := e.sat.throughput() / e.bare.throughput()
			p("| %s ≥ 30%% of bare | %.0f%% (%.0f / %.0f req/s) | %s |\n", e.name, 100*r, e.sat.throughput(), e.bare.throughput(), check(r >= 0.30))
			p99 := e.fixed.quantile(0.99)
			p("| %s p99 ≤ 5 ms at %d/s | %s (errors %s) | %s |\n", e.name, e.fixedRate, ms(p99), e.fixed.errorSummary(),
				check(p99 <= 5*time.Millisecond && e.fixed.ok == e.fixed.requests))
		case "login", "complete":
			r := e.sat.throughput() / b.hashBound()
			p("| %s ≥ 85%% of cores ÷ hash | %.0f%% (%.1f / %.1f per s) | %s |\n", e.name, 100*r, e.sat.throughput(), b.hashBound(), check(r >= 0.85))
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
			fall := 1 - e.sat.throughput()/base
			p("| %s falls < 15%% from %d users to %d users + %d expired tokens | %.1f%% (%.0f → %.0f req/s) | %s |\n",
				e.name, b.o.BaselineUsers, b.users, b.expired, 100*fall, base, e.sat.throughput(), check(fall < 0.15))
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
