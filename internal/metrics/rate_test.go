package metrics

import (
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// TestMailDeliveryRate: cruxd_mail_delivery_rate is the mails sent (not
// failed or dropped) per second over the last minute's whole seconds.
func TestMailDeliveryRate(t *testing.T) {
	const t0 = 1_800_000_000
	now := time.Unix(t0, 0)
	m := newMetrics(nil, func() time.Time { return now })
	gauge := func() float64 {
		t.Helper()
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "cruxd_mail_delivery_rate "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
		t.Fatal("no cruxd_mail_delivery_rate in the scrape")
		return 0
	}
	if g := gauge(); g != 0 {
		t.Errorf("at the start: %v, want 0", g)
	}
	for range 30 { // 30 sent a second for 10 s, 5 failed
		for range 30 {
			m.MailDelivered(account.MailReset, account.MailSent)
		}
		m.MailDelivered(account.MailReset, account.MailFailed)
		now = now.Add(time.Second / 3)
	}
	now = time.Unix(t0+11, 0) // 1 s of nothing after the 10 s
	if g := gauge(); math.Abs(g-900.0/11) > 1e-9 {
		t.Errorf("after 900 mails in 10 s and 1 s of nothing: %v, want 900/11", g)
	}
	now = now.Add(2 * time.Minute)
	if g := gauge(); g != 0 {
		t.Errorf("two minutes later: %v, want 0", g)
	}
}
