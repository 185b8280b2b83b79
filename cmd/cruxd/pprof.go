package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// checkLoopbackAddr refuses an address for flag that is set and not a
// loopback host:port: profiles describe the process's internals, and
// metrics how each request's mail went; neither may be public. Scrape from
// the same host or through an authenticated tunnel.
func checkLoopbackAddr(flag, addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !isLoopback(host) {
		return fmt.Errorf("%w: %s must be a loopback host:port", errUsage, flag)
	}
	return nil
}

// startPprof serves the runtime profiles of net/http/pprof on addr, on a
// mux of their own (never the API's), until stop is called.
func startPprof(addr string, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	stop, bound, err := serveAside("pprof", addr, mux)
	if err != nil {
		return nil, err
	}
	log.Info("serving profiles", "addr", bound)
	return stop, nil
}

// startMetrics serves m at /metrics on addr, a listener of its own: the
// figures say what the service did, which the public must not read. It
// returns the address it listens on.
func startMetrics(addr string, m http.Handler) (stop func(), bound string, err error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m)
	return serveAside("metrics", addr, mux)
}

// serveAside serves h on addr, apart from the API, until stop is called,
// and returns the address it listens on.
func serveAside(what, addr string, h http.Handler) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("%s listen: %w", what, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() { srv.Close() }, ln.Addr().String(), nil
}
