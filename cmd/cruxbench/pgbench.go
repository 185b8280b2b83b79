package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The pgbench scripts hold the statements cruxd sent for one request
// before it learnt to send a transaction in one round trip.
//
//go:embed pgbench/*.sql
var pgbenchScripts embed.FS

// pgOptions are the flags of `cruxbench pgbench`.
type pgOptions struct {
	DB        string
	Users     int
	Tokens    int
	Pool      int
	Conns     []int
	Duration  time.Duration
	Pairs     int
	Cruxd     string
	ServeArgs []string
	Endpoints []string
}

// runPgbench is `cruxbench pgbench`: on one PostgreSQL cluster it runs,
// alternately, pgbench with the statements cruxd used to send one round
// trip at a time, and cruxd under cruxbench's load generator on the same
// requests, and prints each pair's ratio.
func runPgbench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &pgOptions{}
	fs := flag.NewFlagSet("cruxbench pgbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.DB, "db", "", "PostgreSQL server DSN (postgres://…) to create the temporary database on (required)")
	fs.IntVar(&o.Users, "users", 100_000, "users loaded into the database")
	fs.IntVar(&o.Tokens, "tokens", 10_000, "live reset tokens that Validate reads, of the first users; Reset Password takes the others")
	fs.IntVar(&o.Pool, "pool", 10, "cruxd's --pool-size, and pgbench's clients")
	conns := fs.String("conns", "16,64", "connections of the load generator to cruxd, comma-separated")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each run")
	fs.IntVar(&o.Pairs, "pairs", 3, "pgbench/cruxd pairs per endpoint and connection count")
	fs.StringVar(&o.Cruxd, "cruxd", "", "cruxd binary to run; empty: build ./cmd/cruxd into a temporary directory")
	serveArgs := fs.String("serve-args", "", "more arguments of cruxd serve, space-separated (an older cruxd needs --allow-newer-schema)")
	endpoints := fs.String("endpoints", "reset,validate", "endpoints to measure, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.HasPrefix(o.DB, "postgres://") && !strings.HasPrefix(o.DB, "postgresql://") {
		return errors.New("-db must be a postgres:// DSN")
	}
	if o.Tokens < 1 || o.Users <= o.Tokens {
		return errors.New("-tokens must be at least 1 and below -users")
	}
	for _, c := range strings.Split(*conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("-conns: bad count %q", c)
		}
		o.Conns = append(o.Conns, n)
	}
	for _, e := range strings.Split(*endpoints, ",") {
		if e = strings.TrimSpace(e); e != "reset" && e != "validate" {
			return fmt.Errorf("-endpoints: unknown %q (reset, validate)", e)
		}
		o.Endpoints = append(o.Endpoints, strings.TrimSpace(e))
	}
	o.ServeArgs = strings.Fields(*serveArgs)
	if _, err := exec.LookPath("pgbench"); err != nil {
		return fmt.Errorf("pgbench is needed: %w", err)
	}
	dir, err := os.MkdirTemp("", "cruxbench-pgbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeScripts(dir); err != nil {
		return err
	}
	if o.Cruxd == "" {
		logf("building cruxd")
		if o.Cruxd, err = buildCruxd(dir); err != nil {
			return err
		}
	}
	db, err := createPostgresDatabase(ctx, o.DB)
	if err != nil {
		return err
	}
	defer func() {
		if err := db.drop(); err != nil {
			logf("drop database: %v", err)
		}
	}()
	settings, err := pgPrepare(ctx, db, o)
	if err != nil {
		return err
	}
	proc, err := startProcess(o.Cruxd, append([]string{"serve", "--db", db.dsn, "--addr", "127.0.0.1:0", "--mode", "sandbox",
		"--pool-size", strconv.Itoa(o.Pool)}, o.ServeArgs...), nil, filepath.Join(dir, "cruxd.log"))
	if err != nil {
		return err
	}
	defer proc.stop()

	var rows []pgRow
	for _, e := range o.Endpoints {
		for _, c := range o.Conns {
			for pair := range o.Pairs {
				if err := ctx.Err(); err != nil {
					return err
				}
				r := pgRow{endpoint: e, conns: c, pair: pair + 1}
				runs := []func() error{
					func() (err error) { r.tps, r.pgLoad, err = pgbenchRun(ctx, dir, db.dsn, e, o); return err },
					func() (err error) { r.reqs, r.cruxdLoad, err = cruxdRun(proc, e, c, o); return err },
				}
				if pair%2 == 1 {
					r.cruxdFirst = true
					slices.Reverse(runs)
				}
				for _, run := range runs {
					if err := run(); err != nil {
						return err
					}
				}
				logf("%s c=%d pair %d: pgbench %.0f tps, cruxd %.0f req/s, ratio %.2f", e, c, r.pair, r.tps, r.reqs, r.reqs/r.tps)
				rows = append(rows, r)
			}
		}
	}
	pgReport(stdout, o, settings, rows)
	return nil
}

// writeScripts copies the embedded scripts into dir.
func writeScripts(dir string) error {
	ents, err := pgbenchScripts.ReadDir("pgbench")
	if err != nil {
		return err
	}
	for _, e := range ents {
		b, err := pgbenchScripts.ReadFile("pgbench/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// pgPrepare loads the users through the store, stores Validate's live
// tokens (token i of user i, for i < o.Tokens: rows only, as cruxd stores
// them, its digest and no clear text), and returns the server's durability
// settings.
func pgPrepare(ctx context.Context, db *database, o *pgOptions) (string, error) {
	st, err := db.open(ctx)
	if err != nil {
		return "", err
	}
	t := time.Now()
	_, err = loadUsers(ctx, st, o.Users, 50_000)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	logf("loaded %d users in %v", o.Users, time.Since(t).Round(time.Millisecond))
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `
		INSERT INTO reset_tokens (digest, user_id, created_at, expires_at)
		SELECT sha256(convert_to(lpad(i::text, 20, '0'), 'UTF8')), u.id, now(), now() + interval '1 day'
		FROM generate_series(0, $1 - 1) i JOIN users u ON u.email = 'user' || i || '@' || $2`,
		o.Tokens, benchDomain); err != nil {
		return "", fmt.Errorf("store validate tokens: %w", err)
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return "", err
	}
	var s []string
	for _, name := range []string{"server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers"} {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return "", err
		}
		s = append(s, name+"="+v)
	}
	return strings.Join(s, ", "), nil
}

var (
	tpsRE    = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	failedRE = regexp.MustCompile(`number of failed transactions: ([1-9][0-9]*)`)
)

// pgbenchRun runs endpoint's script with o.Pool clients and returns its tps
// and the load average before it.
func pgbenchRun(ctx context.Context, dir, dsn, endpoint string, o *pgOptions) (float64, string, error) {
	load := load1()
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(o.Pool), "-j", "2",
		"-T", strconv.Itoa(int(o.Duration.Seconds())), "-f", filepath.Join(dir, endpoint+".sql")}
	if endpoint == "reset" {
		args = append(args, "-D", fmt.Sprint("lo=", o.Tokens), "-D", fmt.Sprint("hi=", o.Users))
	} else {
		args = append(args, "-D", fmt.Sprint("tokens=", o.Tokens))
	}
	out, err := runBounded(ctx, o.Duration, "pgbench", append(args, dsn)...)
	if err != nil {
		return 0, "", fmt.Errorf("pgbench %s: %v\n%s", endpoint, err, out)
	}
	if fails := failedRE.FindSubmatch(out); fails != nil {
		return 0, "", fmt.Errorf("pgbench %s: %s failed transactions\n%s", endpoint, fails[1], out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, "", fmt.Errorf("pgbench %s: no tps in its output\n%s", endpoint, out)
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	return tps, load, err
}

// cruxdRun drives cruxd's endpoint over conns connections with cruxbench's
// generator (gen.go) and returns its req/s and the load average before
// it; any answer but 2xx fails it.
func cruxdRun(proc *process, endpoint string, conns int, o *pgOptions) (float64, string, error) {
	load := load1()
	t := targeter{proc.url, func(r *hreq) error {
		if endpoint == "reset" {
			*r = hreq{method: "POST", path: pathReset, body: appendResetBody(r.body[:0], o.Tokens+mrand.IntN(o.Users-o.Tokens))}
		} else {
			*r = hreq{method: "GET", path: fmt.Sprintf("%s?token=%020d", pathComplete, mrand.IntN(o.Tokens))}
		}
		return nil
	}}
	s := runAttack(attackSpec{name: endpoint, targeter: t, workers: conns, duration: o.Duration, timeout: 10 * time.Second}, proc.pid())
	if s.ok != s.requests || s.ok == 0 {
		return 0, "", fmt.Errorf("cruxd %s: %d of %d answers 2xx: %s", endpoint, s.ok, s.requests, s.errorSummary())
	}
	return s.throughput(), load, nil
}

// runBounded runs name for d plus a minute at most and returns its output.
func runBounded(ctx context.Context, d time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// load1 is the one-minute load average.
func load1() string { return strings.Fields(loadAverage())[0] }

// pgRow is one pgbench/cruxd pair.
type pgRow struct {
	endpoint          string
	conns, pair       int
	tps, reqs         float64
	pgLoad, cruxdLoad string
	cruxdFirst        bool
}

func pgReport(w io.Writer, o *pgOptions, settings string, rows []pgRow) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "## cruxd against pgbench on one PostgreSQL cluster\n\n")
	fmt.Fprintf(w, "%s, %d CPUs; %s; %d users, %d live tokens for Validate; cruxd --pool-size %d, pgbench -M prepared -c %d -j 2; %v per run\n\n",
		host, runtime.NumCPU(), settings, o.Users, o.Tokens, o.Pool, o.Pool, o.Duration)
	fmt.Fprintln(w, "| endpoint | conns | pair | first | pgbench tps | load | cruxd req/s | load | ratio |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		first := "pgbench"
		if r.cruxdFirst {
			first = "cruxd"
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %.0f | %s | %.0f | %s | %.2f |\n",
			r.endpoint, r.conns, r.pair, first, r.tps, r.pgLoad, r.reqs, r.cruxdLoad, r.reqs/r.tps)
	}
	fmt.Fprintln(w, "\n| endpoint | conns | median ratio | range |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	for _, e := range o.Endpoints {
		for _, c := range o.Conns {
			var rs []float64
			for _, r := range rows {
				if r.endpoint == e && r.conns == c {
					rs = append(rs, r.reqs/r.tps)
				}
			}
			if len(rs) == 0 {
				continue
			}
			slices.Sort(rs)
			fmt.Fprintf(w, "| %s | %d | %.2f | %.2f–%.2f |\n", e, c, rs[len(rs)/2], rs[0], rs[len(rs)-1])
		}
	}
}
