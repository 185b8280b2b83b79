package httpapi

import "net/http"

// Metrics records every request and serves the scrape endpoint
// (internal/metrics).
type Metrics interface {
	http.Handler
	// RequestStarted is called as a request arrives; the returned done is
	// called once it is answered, with the route pattern (never the raw
	// path) and the status.
	RequestStarted() (done func(method, route string, status int))
	// RequestAbandoned counts a request whose client hung up before it
	// was answered.
	RequestAbandoned(method, route string)
}

// serveMetrics serves the scrape endpoint.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.ServeHTTP(w, r)
	return nil
}
