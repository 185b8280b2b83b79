package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay forwards TCP connections from a loopback port to a server and
// counts them: a real hop between a client and, say, Mailpit, that shows
// how many connections the client opens and can drop them all at once.
type Relay struct {
	ln    net.Listener
	mu    sync.Mutex
	conns int
	open  []net.Conn
}

// NewRelay relays to target until the test ends.
func NewRelay(tb testing.TB, target string) *Relay {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &Relay{ln: ln}
	tb.Cleanup(func() { ln.Close(); r.Cut() })
	go r.serve(target)
	return r
}

func (r *Relay) serve(target string) {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns++
		r.open = append(r.open, c, s)
		r.mu.Unlock()
		go func() { io.Copy(s, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}

// Addr returns the relay's host:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Dialled returns how many connections the relay accepted.
func (r *Relay) Dialled() int { r.mu.Lock(); defer r.mu.Unlock(); return r.conns }

// Cut closes every connection relayed so far, as a server that drops its
// idle clients does.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.open {
		c.Close()
	}
	r.open = nil
}
