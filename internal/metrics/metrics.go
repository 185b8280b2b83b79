// Package metrics exposes cruxd's Prometheus metrics: the HTTP requests
// (through httpapi.Metrics), what the account.Service does (as its
// account.Observer) and figures read from the store at each scrape. Each
// Metrics owns its registry; nothing is registered globally.
//
// No label ever carries an address, a token or an IP: routes are patterns,
// methods are from a fixed set, and the rest are enumerations.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cruxd/cruxd/internal/account"
)

// StatsFunc reads the store's figures (account.Service.Stats).
type StatsFunc func(ctx context.Context) (account.Stats, error)

// statsTimeout bounds the store query of one scrape.
const statsTimeout = 2 * time.Second

// Metrics is cruxd's set of metrics. Create it with New.
type Metrics struct {
	log      *slog.Logger
	reg      *prometheus.Registry
	handler  http.Handler
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	gone     *prometheus.CounterVec
	resets   *prometheus.CounterVec
	logins   *prometheus.CounterVec
	throttle *prometheus.CounterVec
	mails    *prometheus.CounterVec
	mailRate *rate
	hashWait prometheus.Histogram
}

var _ account.Observer = (*Metrics)(nil)

// New returns the metrics of one cruxd process, logging to log.
func New(log *slog.Logger) *Metrics { return newMetrics(log, time.Now) }

// newMetrics is New with the clock of the delivery rate.
func newMetrics(log *slog.Logger, now func() time.Time) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		mailRate: newRate(now),
		log:      log,
		reg:      prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cruxd_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cruxd_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cruxd_http_requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
		gone: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cruxd_http_requests_abandoned_total",
			Help: "Requests whose client hung up before the answer, by method and route pattern (also counted with status 499).",
		}, []string{"method", "route"}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cruxd_resets_total",
			Help: "Password resets, by event: requested, mailed, completed.",
		}, []string{"event"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cruxd_logins_total",
			Help: "Login attempts, by result: ok, failed.",
		}, []string{"result"}),
		throttle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cruxd_throttled_total",
			Help: "Calls refused with 429, by the abuse limit that refused them.",
		}, []string{"limit"}),
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cruxd_mails_total",
			Help: "Mail delivery attempts, by kind and outcome (sent, failed, dropped, gave_up).",
		}, []string{"kind", "outcome"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cruxd_hash_queue_wait_seconds",
			Help:    "Time a password hash waited for a free hashing slot.",
			Buckets: []float64{.0001, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	// Known label values start at 0, so that rates work from the first
	// scrape.
	for _, e := range []string{"requested", "mailed", "completed"} {
		m.resets.WithLabelValues(e)
	}
	for _, r := range []string{"ok", "failed"} {
		m.logins.WithLabelValues(r)
	}
	for _, k := range []account.MailKind{account.MailReset, account.MailPasswordChanged, account.MailInvite} {
		for _, o := range []account.MailOutcome{account.MailSent, account.MailFailed, account.MailDropped, account.MailGaveUp} {
			m.mails.WithLabelValues(string(k), string(o))
		}
	}
	deliveryRate := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cruxd_mail_delivery_rate",
		Help: fmt.Sprintf("Mails the SMTP server accepted from this process per second, over the last %d seconds (rate() of cruxd_mails_total{outcome=\"sent\"} for any other window).", rateWindow),
	}, m.mailRate.perSecond)
	m.reg.MustRegister(m.requests, m.latency, m.inFlight, m.gone, m.resets, m.logins, m.throttle, m.mails, deliveryRate, m.hashWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// CollectStats makes every scrape call stats for the outbox and
// reset-token gauges; its failures are logged and shown as
// cruxd_store_stats_up 0. Call it once, before serving.
func (m *Metrics) CollectStats(stats StatsFunc) {
	m.reg.MustRegister(&storeCollector{stats: stats, log: m.log})
}

// Registry returns the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ServeHTTP serves the metrics in the Prometheus exposition format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// RequestStarted counts a request in flight; done records its route,
// status and duration.
func (m *Metrics) RequestStarted() (done func(method, route string, status int)) {
	start := time.Now()
	m.inFlight.Inc()
	return func(method, route string, status int) {
		m.inFlight.Dec()
		method = knownMethod(method)
		m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}
}

// RequestAbandoned counts a request whose client hung up.
func (m *Metrics) RequestAbandoned(method, route string) {
	m.gone.WithLabelValues(knownMethod(method), route).Inc()
}

// knownMethod bounds the method label: a client may send any token.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// The account.Observer methods.

func (m *Metrics) ResetRequested() { m.resets.WithLabelValues("requested").Inc() }
func (m *Metrics) ResetCompleted() { m.resets.WithLabelValues("completed").Inc() }
func (m *Metrics) LoginSucceeded() { m.logins.WithLabelValues("ok").Inc() }
func (m *Metrics) LoginFailed()    { m.logins.WithLabelValues("failed").Inc() }

func (m *Metrics) Throttled(limit string) { m.throttle.WithLabelValues(limit).Inc() }

func (m *Metrics) MailDelivered(kind account.MailKind, outcome account.MailOutcome) {
	m.mails.WithLabelValues(string(kind), string(outcome)).Inc()
	if outcome == account.MailSent {
		m.mailRate.add()
	}
	if kind == account.MailReset && outcome == account.MailSent {
		m.resets.WithLabelValues("mailed").Inc()
	}
}

func (m *Metrics) HashWaited(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

// storeCollector reads the store's figures at each scrape.
type storeCollector struct {
	stats StatsFunc
	log   *slog.Logger
}

var (
	descStoreUp = prometheus.NewDesc("cruxd_store_stats_up",
		"1 if the store answered the scrape's query, else 0.", nil, nil)
	descMailPending = prometheus.NewDesc("cruxd_mails_pending",
		"Outbox messages not yet delivered, dropped or given up.", nil, nil)
	descOldestPending = prometheus.NewDesc("cruxd_mail_oldest_pending_age_seconds",
		"Age of the oldest pending outbox message; 0 if none.", nil, nil)
	descResetsExpired = prometheus.NewDesc("cruxd_reset_tokens_expired",
		fmt.Sprintf("Reset tokens that expired unused and are not yet purged, counted up to %d.", account.StatsCountLimit), nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descStoreUp
	ch <- descMailPending
	ch <- descOldestPending
	ch <- descResetsExpired
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		c.log.Warn("metrics: read store stats", "err", err)
		ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 0)
		return
	}
	age := 0.0
	if !st.OldestPending.IsZero() {
		age = max(time.Since(st.OldestPending).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descMailPending, prometheus.GaugeValue, float64(st.MailPending))
	ch <- prometheus.MustNewConstMetric(descOldestPending, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(descResetsExpired, prometheus.GaugeValue, float64(st.ResetTokensExpired))
}

// WALReporter is a store whose write-ahead log can be watched: the SQLite
// store.
type WALReporter interface {
	WALBytes() int64
	WALPinned() bool
}

// WatchWAL adds the gauges of w's WAL, read at each scrape.
func (m *Metrics) WatchWAL(w WALReporter) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cruxd_sqlite_wal_bytes",
			Help: "Size of SQLite's write-ahead log file.",
		}, func() float64 { return float64(w.WALBytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cruxd_sqlite_wal_pinned",
			Help: "1 while the WAL is over its limit and a read transaction keeps it from being checkpointed (writes answer 503), else 0.",
		}, func() float64 {
			if w.WALPinned() {
				return 1
			}
			return 0
		}),
	)
}
