package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/metrics"
	"github.com/cruxd/cruxd/internal/web"
)

// runServe runs the server until ctx is cancelled (SIGINT/SIGTERM), then
// shuts down gracefully.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	if err := parseFlags(newFlagSet("serve", &c, serveFlags, stderr), args, getenv); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	start := time.Now()
	tuneGC(getenv)
	log := newLogger(c.LogFormat, stderr, slog.LevelInfo)
	c.log = log
	if c.PprofAddr != "" {
		stopPprof, err := startPprof(c.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	// Check --db, then listen, then open it: a --db or an address that
	// cannot work leaves no database behind.
	if err := checkSQLitePath(c.DB); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	defer ln.Close()

	mode := account.Mode(c.Mode)
	m := metrics.New(log)
	svc, store, err := openService(ctx, &c, m, log)
	if err != nil {
		return err
	}
	defer store.Close()
	m.CollectStats(svc.Stats)
	if w, ok := store.(metrics.WALReporter); ok {
		m.WatchWAL(w)
	}

	seeded := false
	var demo []account.DemoAccount
	if mode == account.Sandbox { // never demo data in production
		if seeded, err = svc.SeedSandbox(ctx); err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
		if demo, err = svc.DemoAccounts(ctx); err != nil {
			return fmt.Errorf("read demo accounts: %w", err)
		}
	}
	stopMail, err := startMailWorker(svc, &c)
	if err != nil {
		return err
	}
	defer stopMail() // after the HTTP server stopped queueing mail
	defer startPurger(svc, &c)()

	metricsAddr := ""
	if c.MetricsAddr != "" {
		stopMetrics, bound, err := startMetrics(c.MetricsAddr, m)
		if err != nil {
			return err
		}
		defer stopMetrics()
		metricsAddr = bound
	}

	policy, _ := c.passwordPolicy() // validate() accepted it
	api := httpapi.New(svc, httpapi.Options{TrustedProxies: c.TrustedProxies, IPv6Prefix: c.IPv6Prefix, Logger: log, Metrics: m})
	web.New(web.Options{
		ProductName: c.ProductName,
		Support:     c.SupportEmail,
		ReturnURL:   c.ReturnURL,
		MinLength:   policy.MinLength,
		LinkTTL:     svc.Config().ResetTTL,
	}).Register(api.Handle)
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: c.ReadTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printBanner(stdout, &c, ln.Addr().String(), metricsAddr, seeded, demo)
	log.Info("cruxd started", "mode", c.Mode, "addr", ln.Addr().String(), "startup", time.Since(start))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(httpapi.GuardFraming(srv, ln)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", c.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown timeout passed: cutting the requests still in flight", "timeout", c.ShutdownTimeout)
		srv.Close()
	} else if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped: no request in flight")
	return nil
}

// printBanner tells a newcomer where cruxd is, where its metrics are (if
// served) and, in sandbox, how to use the demo accounts the database holds.
// The last line is the one tests wait for.
func printBanner(w io.Writer, c *config, addr, metricsAddr string, seeded bool, demo []account.DemoAccount) {
	fmt.Fprintf(w, "cruxd %s mode, database %s\n", c.Mode, redactDB(c.DB))
	if account.Mode(c.Mode) == account.Sandbox {
		switch {
		case seeded:
			fmt.Fprintln(w, "seeded the demo accounts:")
		case len(demo) > 0:
			fmt.Fprintln(w, "demo accounts in the database:")
		default:
			fmt.Fprintln(w, "no demo accounts: the database held users before its first sandbox start")
		}
		for _, u := range demo {
			pw := "no password yet: reset it through the API"
			switch {
			case u.PasswordKept:
				pw = "password " + u.Password
			case u.HasPassword:
				pw = "password changed since seeding"
			}
			if u.AuthToken != "" {
				pw += ", the docs' auth token " + u.AuthToken
			}
			fmt.Fprintf(w, "  %-30s %-16s %s\n", u.Email, u.Org, pw)
		}
		if c.SMTPURL == "" {
			// Said once here rather than logged on every reset: a flood
			// of resets would double the log.
			fmt.Fprintln(w, "no --smtp-url: Reset Password sends no mail; its answer carries the token")
		}
	}
	if metricsAddr != "" {
		fmt.Fprintf(w, "metrics on http://%s/metrics\n", metricsAddr)
	}
	fmt.Fprintf(w, "listening on http://%s\n", addr)
}

// redactDB returns --db for display: a URL's password is replaced by xxxxx.
func redactDB(db string) string {
	u, err := url.Parse(db)
	if err != nil || u.Scheme == "" || u.User == nil {
		return db
	}
	return u.Redacted()
}

// Garbage collector settings of serve, unless the operator set GOGC or
// GOMEMLIMIT. cruxd's live heap is small next to what its requests
// allocate, so under load Go's default GOGC=100 collects many times a
// second; GOGC=400 collects a quarter as often. The soft memory limit keeps
// the heap of a login flood, whose argon2id hashes allocate 19 MiB each,
// near 128 MiB: past it the collector runs as often as it must. docs/perf.md
// has the measurements.
const (
	gcPercent   = 400
	memoryLimit = 128 << 20
)

func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
