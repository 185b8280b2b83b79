package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultIPv6Prefix is how many leading bits of an IPv6 client address
// per-client limits count by: one subscriber commonly holds a whole /64
// and can pick any address in it.
const DefaultIPv6Prefix = 64

// clientIP returns the address of the client, as logs and the audit trail
// show it.
func (s *Server) clientIP(r *http.Request) string { return addrString(s.clientAddr(r)) }

// clientKey returns the key per-client limits count a client under: its
// IPv4 address, or the network of its IPv6 address (s.v6bits long).
func (s *Server) clientKey(a netip.Addr) string {
	if !a.Is6() || s.v6bits >= 128 {
		return addrString(a)
	}
	p, err := a.Prefix(s.v6bits)
	if err != nil {
		return addrString(a)
	}
	return p.String()
}

// clientAddr returns the address of the client: the connection's peer, or,
// when the peer is a trusted proxy, the right-most X-Forwarded-For address
// that is not a trusted proxy.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if len(s.proxies) == 0 || !s.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client // junk: stop at the last address we could trust
			}
			client = a.Unmap()
			if !s.trusted(client) {
				return client
			}
		}
	}
	return client
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if a.IsValid() && p.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}
