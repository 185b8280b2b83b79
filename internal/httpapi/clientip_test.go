package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientKey: IPv4 clients are counted by address, IPv6 clients by the
// network of the configured length, behind a trusted proxy too; logs and
// the audit trail keep the whole address.
func TestClientKey(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		name            string
		bits            int
		remote, xff     string
		wantIP, wantKey string
	}{
		{"IPv4", 0, "192.0.2.7:1234", "", "192.0.2.7", "192.0.2.7"},
		{"IPv4-mapped IPv6", 0, "[::ffff:192.0.2.7]:1234", "", "192.0.2.7", "192.0.2.7"},
		{"IPv6 by /64 by default", 0, "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:1234", "", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"another address, same /64", 0, "[2001:db8:1:2::1]:1234", "", "2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"IPv6 by /48", 48, "[2001:db8:1:2::1]:1234", "", "2001:db8:1:2::1", "2001:db8:1::/48"},
		{"IPv6 each apart", 128, "[2001:db8:1:2::1]:1234", "", "2001:db8:1:2::1", "2001:db8:1:2::1"},
		{"IPv6 behind a trusted proxy", 0, "10.1.1.1:1234", "2001:db8:9:9:1::5", "2001:db8:9:9:1::5", "2001:db8:9:9::/64"},
		{"junk", 0, "junk", "", "unknown", "unknown"},
	} {
		s := New(nil, Options{TrustedProxies: proxy, IPv6Prefix: c.bits})
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if m := s.meta(r); m.IP != c.wantIP || m.Client != c.wantKey {
			t.Errorf("%s: IP %q key %q; want %q %q", c.name, m.IP, m.Client, c.wantIP, c.wantKey)
		}
	}
}
