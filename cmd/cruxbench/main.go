// Command cruxbench measures cruxd against the limits of the machine it runs
// on: it loads a temporary database through the store, starts a real cruxd
// process on it in sandbox mode and drives it over loopback HTTP with a lean
// load generator of its own (gen.go), alternating with a bare net/http
// handler that decodes the same requests and answers the same JSON without a
// store. Each run checks the generator against wrk on the bare handler. It
// prints a markdown report.
//
//	go run ./cmd/cruxbench [-users 100000] [-expired-tokens 0] [-db postgres://…]
//	                       [-conns 16,64] [-pairs 2] [-duration 10s] [-rate 1000] …
//
// cruxbench pgbench runs cruxd and pgbench alternately on one PostgreSQL
// cluster, pgbench with the statements cruxd once sent one round trip at a
// time (pgbench/*.sql), and prints the ratios (pgbench.go):
//
//	go run ./cmd/cruxbench pgbench -db postgres://… [-users 100000] [-pool 10] [-conns 16,64] [-pairs 3]
//
// Every load loop is bounded in time (and, where it consumes a pool, in
// count), and all traffic goes to 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are cruxbench's flags.
type options struct {
	Users         int
	ExpiredTokens int
	BaselineUsers int
	DB            string
	SQLiteFile    string
	Cruxd         string
	Duration      time.Duration
	FixedDuration time.Duration
	FloodDuration time.Duration
	Rate          int
	HashRate      int
	Conns         string
	conns         []int // Conns parsed
	Pairs         int
	Wrk           string
	HashWorkers   int
	StartupRuns   int
	Endpoints     string
	Out           string
	Keep          bool
	LoadOnly      bool
	PprofDir      string
	Batch         int
	Purge         bool
	PurgeServer   bool
	PurgeDuring   bool
	PurgeMax      time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "bare-server" {
		if err := serveBare(ctx, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "cruxbench bare-server:", err)
			os.Exit(1)
		}
		return
	}
	runner := run
	if len(os.Args) > 1 && os.Args[1] == "mail" {
		runner, os.Args = runMail, os.Args[1:] // mail.go
	}
	if err := runner(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "cruxbench:", err)
		os.Exit(1)
	}
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("cruxbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Users, "users", 100_000, "users loaded into the database")
	fs.IntVar(&o.ExpiredTokens, "expired-tokens", 0, "expired reset-token rows loaded besides the users (growth run: 10000000)")
	fs.IntVar(&o.BaselineUsers, "baseline-users", 0, "if > 0, also measure Reset Password and Validate on a fresh database of this many users, and print the fall")
	fs.StringVar(&o.DB, "db", "", "PostgreSQL server DSN (postgres://…) to create a temporary database on; empty: a temporary SQLite file")
	fs.StringVar(&o.SQLiteFile, "sqlite", "", "SQLite file to use instead of a temporary one; loaded (-users, -expired-tokens) only if it does not exist yet, so a big database is loaded once and measured many times")
	fs.StringVar(&o.Cruxd, "cruxd", "", "cruxd binary to run; empty: build ./cmd/cruxd into a temporary directory")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each saturation attack")
	fs.DurationVar(&o.FixedDuration, "fixed-duration", 0, "length of each fixed-rate attack (0: -duration)")
	fs.DurationVar(&o.FloodDuration, "flood-duration", 5*time.Second, "length of the Login flood at 10× capacity")
	fs.IntVar(&o.Rate, "rate", 1000, "fixed rate (req/s) for Reset Password, Validate and Get User")
	fs.IntVar(&o.HashRate, "hash-rate", 0, "fixed rate (req/s) for Login and Create New Password (0: half of cores ÷ hash time)")
	fs.StringVar(&o.Conns, "conns", "16,64", "connections of the saturation attacks, comma-separated: each number is measured")
	fs.IntVar(&o.Pairs, "pairs", 2, "saturation attacks of the bare server and cruxd, alternating, per number of connections")
	fs.StringVar(&o.Wrk, "wrk", "wrk", "wrk binary that checks the generator on the bare server (wrk -t2 -cN, same request) in every run")
	fs.IntVar(&o.HashWorkers, "hash-workers", 0, "concurrent requests of a Login / Create New Password saturation attack (0: 4 per core)")
	fs.IntVar(&o.StartupRuns, "startup-runs", 7, "cruxd starts timed on the loaded database")
	fs.StringVar(&o.Endpoints, "endpoints", "reset,validate,login,complete,user", "endpoints to measure, comma-separated")
	fs.StringVar(&o.Out, "out", "", "also write the markdown report to this file")
	fs.BoolVar(&o.LoadOnly, "load-only", false, "load the -sqlite file and exit")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (database, cruxd log)")
	fs.StringVar(&o.PprofDir, "pprof-dir", "", "if set, run cruxd with --pprof-addr and save a CPU profile of every cruxd saturation attack here")
	fs.BoolVar(&o.Purge, "purge", false, "at the end, run `cruxd purge --retention 1h` under Reset Password at -rate and report it")
	fs.BoolVar(&o.PurgeServer, "purge-server", false, "with -purge: measure cruxd's own periodic purge (serve --purge-interval) instead of the `cruxd purge` process")
	fs.BoolVar(&o.PurgeDuring, "purge-during", false, "run every cruxd with its periodic purge due after a second (serve --purge-interval 1s --purge-retention 1h), so that each attack meets the purge as a deployment's traffic does")
	fs.DurationVar(&o.PurgeMax, "purge-max", 15*time.Minute, "longest the purge may run")
	fs.IntVar(&o.Batch, "batch", 50_000, "rows per transaction when loading")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.LoadOnly && o.SQLiteFile == "" {
		return nil, errors.New("-load-only needs -sqlite")
	}
	if o.FixedDuration <= 0 {
		o.FixedDuration = o.Duration
	}
	for _, c := range strings.Split(o.Conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-conns: %q is not a positive number", c)
		}
		o.conns = append(o.conns, n)
	}
	if o.Pairs < 1 {
		return nil, errors.New("-pairs must be at least 1")
	}
	if o.HashWorkers <= 0 {
		o.HashWorkers = 4 * runtime.GOMAXPROCS(0)
	}
	if o.Users < 100 {
		return nil, errors.New("-users must be at least 100")
	}
	if o.DB != "" && !strings.HasPrefix(o.DB, "postgres://") && !strings.HasPrefix(o.DB, "postgresql://") {
		return nil, errors.New("-db must be a postgres:// DSN (SQLite is the default)")
	}
	return o, nil
}

func (o *options) want(endpoint string) bool {
	for _, e := range strings.Split(o.Endpoints, ",") {
		if strings.TrimSpace(e) == endpoint {
			return true
		}
	}
	return false
}

// logf reports progress on stderr; the report goes to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
