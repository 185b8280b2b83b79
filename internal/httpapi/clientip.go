package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP returns the address of the client: the connection's peer, or,
// when the peer is a trusted proxy, the right-most X-Forwarded-For address
// that is not a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	peer := remoteAddr(r)
	if len(s.proxies) == 0 || !s.trusted(peer) {
		return addrString(peer)
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addrString(client) // junk: stop at the last address we could trust
			}
			client = a.Unmap()
			if !s.trusted(client) {
				return addrString(client)
			}
		}
	}
	return addrString(client)
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
