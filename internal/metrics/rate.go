package metrics

import (
	"sync"
	"time"
)

// rateWindow is how far back cruxd_mail_delivery_rate looks.
const rateWindow = 60

// rate counts events per second of the clock and tells their mean rate
// over the last rateWindow whole seconds (fewer right after the start).
type rate struct {
	mu    sync.Mutex
	now   func() time.Time
	start int64 // the second it started
	secs  [rateWindow]struct {
		at int64 // the Unix second counted in n
		n  int
	}
}

func newRate(now func() time.Time) *rate { return &rate{now: now, start: now().Unix()} }

func (r *rate) add() {
	sec := r.now().Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &r.secs[sec%rateWindow]
	if b.at != sec {
		b.at, b.n = sec, 0
	}
	b.n++
}

// perSecond returns the events of the whole seconds of the window, per
// second; 0 in the first second.
func (r *rate) perSecond() float64 {
	now := r.now().Unix()
	from := max(now-rateWindow, r.start)
	if now <= from {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.secs {
		if b.at >= from && b.at < now {
			n += b.n
		}
	}
	return float64(n) / float64(now-from)
}
