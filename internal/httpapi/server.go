// Package httpapi serves the Crux API of docs/api.md over HTTP on top of
// account.Service.
package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// Options configure the HTTP layer.
type Options struct {
	// TrustedProxies are the networks whose X-Forwarded-For is believed:
	// the client is the right-most address not in them.
	TrustedProxies []netip.Prefix
	// IPv6Prefix is how many leading bits of an IPv6 client address the
	// per-client limits count by, 1 to 128; 0: DefaultIPv6Prefix.
	IPv6Prefix int
	Logger     *slog.Logger
	// Metrics, if set, records every request.
	Metrics Metrics
}

// Server answers the API. Create it with New.
type Server struct {
	svc     *account.Service
	log     *slog.Logger
	proxies []netip.Prefix
	v6bits  int
	mux     *http.ServeMux
	metrics Metrics // nil: none
}

// New returns a Server calling svc.
func New(svc *account.Service, opt Options) *Server {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v6bits := opt.IPv6Prefix
	if v6bits <= 0 || v6bits > 128 {
		v6bits = DefaultIPv6Prefix
	}
	s := &Server{svc: svc, log: log, proxies: opt.TrustedProxies, v6bits: v6bits, mux: http.NewServeMux(), metrics: opt.Metrics}
	s.routes()
	return s
}

// ServeHTTP serves the API's routes; unknown paths get a JSON 404. Every
// request gets a request id (X-Request-Id, kept from the caller when it is
// sane), one log line, and a JSON 500 instead of a dropped connection if a
// handler panics. Every answer is Cache-Control: no-store, since API
// bodies carry auth tokens, reset tokens and addresses; the pages mounted
// with Handle set their own.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r.Header.Get("X-Request-Id"))
	w.Header().Set("X-Request-Id", id)
	w.Header().Set("Cache-Control", "no-store")
	sw := &statusWriter{ResponseWriter: w}
	var done func(method, route string, status int)
	if s.metrics != nil {
		done = s.metrics.RequestStarted()
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic", "route", routeOf(r), "panic", p, "stack", string(debug.Stack()))
			if sw.status == 0 {
				writeJSON(sw, http.StatusInternalServerError, detail{"A server error occurred."})
			}
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("route", routeOf(r)), slog.Int("status", sw.code()),
			slog.Duration("duration", time.Since(start)), slog.String("ip", s.clientIP(r)), slog.String("request_id", id))
		if done != nil {
			done(r.Method, routeOf(r), sw.code())
		}
	}()
	if err := checkFraming(sw, r); err != nil {
		s.writeError(sw, r, err)
		return
	}
	if r.Method != http.MethodConnect && r.URL.Path != cleanPath(r.URL.Path) {
		// ServeMux would answer a redirect without a body; Django, whose
		// API this is, knows no such path: a JSON 404.
		s.notFound(sw, r)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// cleanPath is the canonical form ServeMux redirects to: path.Clean with
// the trailing slash kept.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestID returns the caller's id when it is short and plain, else a new
// random one.
func requestID(given string) string {
	if n := len(given); n > 0 && n <= 64 && strings.IndexFunc(given, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == '.')
	}) < 0 {
		return given
	}
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Handle adds a non-API handler (pages, metrics) to the same mux.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// handlerFunc is a handler that returns its failure; adapt turns the error
// into the response in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// endpoint maps the methods a path allows to their handlers.
type endpoint map[string]handlerFunc

// handle registers path with and without its trailing slash (docs/api.md: no
// redirect, since a redirected POST loses its body) and answers other
// methods with 405 and Allow.
func (s *Server) handle(path string, e endpoint) {
	allowed := make([]string, 0, len(e))
	for m := range e {
		allowed = append(allowed, m)
	}
	allow := strings.Join(sortedMethods(allowed), ", ")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn, ok := e[r.Method]
		if !ok && r.Method == http.MethodHead {
			fn, ok = e[http.MethodGet]
		}
		if !ok {
			s.writeError(w, r, &requestError{status: http.StatusMethodNotAllowed,
				detail: "Method \"" + truncate(r.Method, 20) + "\" not allowed.", allow: allow})
			return
		}
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
	trimmed := strings.TrimSuffix(path, "/")
	s.mux.Handle(trimmed+"/{$}", h)
	s.mux.Handle(trimmed, h)
}

func sortedMethods(ms []string) []string {
	order := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	out := make([]string, 0, len(ms)+1)
	for _, m := range order {
		for _, have := range ms {
			if have == m || m == http.MethodHead && have == http.MethodGet {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// notFound answers every path no route claims.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, detail{account.MsgNotFound})
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types are marshalled; failure is a bug.
		panic("cruxd: marshal response: " + err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

// routeOf names the route for logs: the matched pattern, never the raw
// path (which may carry a uuid or junk).
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return "unmatched"
}

// meta returns who is calling, for the audit trail.
func (s *Server) meta(r *http.Request) account.Meta {
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	a := s.clientAddr(r)
	return account.Meta{IP: addrString(a), UserAgent: ua, Client: s.clientKey(a)}
}
