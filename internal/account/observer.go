package account

import "time"

// Observer is told what the Service does, for monitoring (internal/metrics
// implements it). Its methods must be cheap and safe for concurrent use;
// they never receive an address, a token or an IP.
type Observer interface {
	ResetRequested()
	ResetCompleted()
	LoginSucceeded()
	LoginFailed()
	// Throttled reports a call refused by the limit of that name.
	Throttled(limit string)
	// MailDelivered reports one delivery attempt of a kind of mail and its
	// outcome (sent, failed, dropped, gave_up).
	MailDelivered(kind MailKind, outcome MailOutcome)
	// HashWaited reports how long a password hash waited for a slot,
	// whether or not it got one.
	HashWaited(d time.Duration)
}

// nopObserver is the Observer of a Service configured without one.
type nopObserver struct{}

func (nopObserver) ResetRequested()                     {}
func (nopObserver) ResetCompleted()                     {}
func (nopObserver) LoginSucceeded()                     {}
func (nopObserver) LoginFailed()                        {}
func (nopObserver) Throttled(string)                    {}
func (nopObserver) MailDelivered(MailKind, MailOutcome) {}
func (nopObserver) HashWaited(time.Duration)            {}
