package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

// TestOwnRegistry: two Metrics live side by side (each owns its registry)
// and nothing lands in the global default registry.
func TestOwnRegistry(t *testing.T) {
	a := metrics.New(nil)
	b := metrics.New(nil)
	b.CollectStats(func(context.Context) (account.Stats, error) {
		return account.Stats{MailPending: 3, OldestPending: time.Now().Add(-time.Minute), ResetTokensExpired: 2}, nil
	})
	a.LoginFailed()
	done := b.RequestStarted()
	done("GET", "/organizations/users/detail/{uuid}/{$}", 200)
	b.MailDelivered(account.MailReset, account.MailSent)

	sa, sb := scrape(t, a), scrape(t, b)
	if !strings.Contains(sa, `cruxd_logins_total{result="failed"} 1`) || !strings.Contains(sb, `cruxd_logins_total{result="failed"} 0`) {
		t.Errorf("the two registries share state:\n%s", sa)
	}
	for _, want := range []string{
		`cruxd_http_requests_total{method="GET",route="/organizations/users/detail/{uuid}/{$}",status="200"} 1`,
		`cruxd_resets_total{event="mailed"} 1`,
		`cruxd_mails_pending 3`,
		`cruxd_reset_tokens_expired 2`,
		`cruxd_store_stats_up 1`,
	} {
		if !strings.Contains(sb, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(sa, "cruxd_mails_pending") {
		t.Error("store gauges without a stats function")
	}
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "cruxd_") {
			t.Errorf("%s is in the global default registry", f.GetName())
		}
	}
}

// TestStatsFailure: a store that does not answer shows as
// cruxd_store_stats_up 0, and the scrape still works.
func TestStatsFailure(t *testing.T) {
	m := metrics.New(nil)
	m.CollectStats(func(context.Context) (account.Stats, error) { return account.Stats{}, errors.New("down") })
	s := scrape(t, m)
	if !strings.Contains(s, "cruxd_store_stats_up 0") || !strings.Contains(s, "cruxd_logins_total") {
		t.Errorf("scrape with the store down:\n%s", s)
	}
}

// TestMethodLabelBounded: a made-up method does not make a label of its
// own.
func TestMethodLabelBounded(t *testing.T) {
	m := metrics.New(nil)
	m.RequestStarted()("X-SECRET-METHOD", "/", 405)
	if s := scrape(t, m); strings.Contains(s, "X-SECRET") || !strings.Contains(s, `method="OTHER"`) {
		t.Errorf("method label:\n%s", s)
	}
}
