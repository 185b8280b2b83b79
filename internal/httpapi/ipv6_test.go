package httpapi_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
)

// TestIPv6ClientsCountedByNetwork: in production, Reset Password calls from
// ever new addresses of one IPv6 /64 share one per-client limit, while
// another /64 and an IPv4 client keep their own.
func TestIPv6ClientsCountedByNetwork(t *testing.T) {
	e := newFuzzEnv(t)
	limit := account.ProductionLimits.ResetCallsPerIPMinute
	reset := func(remote string) int {
		req := httptest.NewRequest("POST", "/organizations/reset-password/", strings.NewReader(`{"email":"`+fuzzBailey+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		e.prodH.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := 1; i <= limit; i++ {
		if got := reset(fmt.Sprintf("[2001:db8:7:7::%x]:4000", i)); got != 200 {
			t.Fatalf("call %d of %d from one /64: %d; want 200", i, limit, got)
		}
	}
	if got := reset("[2001:db8:7:7:ffff::1]:4000"); got != 429 {
		t.Errorf("a call past the limit from a new address of the same /64: %d; want 429", got)
	}
	if got := reset("[2001:db8:7:8::1]:4000"); got != 200 {
		t.Errorf("a call from the next /64: %d; want 200", got)
	}
	if got := reset("192.0.2.9:4000"); got != 200 {
		t.Errorf("a call from an IPv4 client: %d; want 200", got)
	}
}
