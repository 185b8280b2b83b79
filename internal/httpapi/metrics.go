package httpapi

// Metrics records every request (internal/metrics). The scrape endpoint is
// served elsewhere, on a listener of its own: never by this API.
type Metrics interface {
	// RequestStarted is called as a request arrives; the returned done is
	// called once it is answered, with the route pattern (never the raw
	// path) and the status.
	RequestStarted() (done func(method, route string, status int))
	// RequestAbandoned counts a request whose client hung up before it
	// was answered.
	RequestAbandoned(method, route string)
}
