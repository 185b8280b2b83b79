package account

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Limits are the abuse limits' sizes; a zero field disables that limit. A
// client is the per-IP key of Meta.IP.
type Limits struct {
	ResetMailsPerAddressHour int // reset mails sent to one address an hour
	ResetCallsPerIPMinute    int // Reset Password calls from one client a minute
	LoginCallsPerIPMinute    int // logins, right or wrong, from one client a minute
	FailedLoginsPerIPMinute  int // failed logins from one client a minute
	FailedLoginsPerUserIP    int // failed logins for one username from one client in 15 minutes
	// FailedLoginsPerUserHour bounds the failed logins for one username in
	// a clock hour from clients that did not log in to it within AuthTTL:
	// guessers spread over many addresses are slowed down while the owner,
	// from an address it logged in from, is not.
	FailedLoginsPerUserHour int
}

// ProductionLimits are the limits production applies by default.
var ProductionLimits = Limits{
	ResetMailsPerAddressHour: 3,
	ResetCallsPerIPMinute:    20,
	LoginCallsPerIPMinute:    30,
	FailedLoginsPerIPMinute:  10,
	FailedLoginsPerUserIP:    5,
	FailedLoginsPerUserHour:  20,
}

// LimitsInForce returns the abuse limits a Service in mode applies:
// production always applies l; sandbox only when on (its callers are
// developers, whose tests would trip the limits).
func LimitsInForce(mode Mode, on bool, l Limits) Limits {
	if mode != Production && !on {
		return Limits{}
	}
	return l
}

// Limit is a fixed-window abuse limit: at most Max events per Window for each
// subject (an IP, an address). A Max of 0 disables it.
type Limit struct {
	Name   string // names the limit in counter keys, errors and metrics
	Window time.Duration
	Max    int
}

// limitSet is every limit the Service applies, named once.
type limitSet struct {
	resetCalls     Limit // Reset Password calls per client
	resetMails     Limit // reset mails per address; a message's first attempt counts
	loginCalls     Limit // logins per client
	failedIP       Limit // failed logins per client
	failedUserIP   Limit // failed logins per (username, client)
	failedUserHour Limit // failed logins per username from clients it does not know
}

func newLimitSet(l Limits) limitSet {
	return limitSet{
		resetCalls:     Limit{Name: "reset-ip", Window: time.Minute, Max: l.ResetCallsPerIPMinute},
		resetMails:     Limit{Name: "reset-mail-addr", Window: time.Hour, Max: l.ResetMailsPerAddressHour},
		loginCalls:     Limit{Name: "login-ip", Window: time.Minute, Max: l.LoginCallsPerIPMinute},
		failedIP:       Limit{Name: "login-fail-ip", Window: time.Minute, Max: l.FailedLoginsPerIPMinute},
		failedUserIP:   Limit{Name: "login-fail-user-ip", Window: 15 * time.Minute, Max: l.FailedLoginsPerUserIP},
		failedUserHour: Limit{Name: "login-fail-user", Window: time.Hour, Max: l.FailedLoginsPerUserHour},
	}
}

// loginLimited reports whether any limit applies to logins.
func (l limitSet) loginLimited() bool {
	return l.loginCalls.Max > 0 || l.failedIP.Max > 0 || l.failedUserIP.Max > 0 || l.failedUserHour.Max > 0
}

// reserveLogin counts a login attempt against the per-client limit of
// logins and, as a failure, against the failed-login limits, before its
// hash; it returns the failures counted, for a success to release.
// ETHROTTLED when a limit is full. u is the account using the
// username, nil if none: the username's limits apply alike to strangers
// and members, except that a client that logged in to u within AuthTTL is
// not held to the username's hourly ceiling.
func (s *Service) reserveLogin(ctx context.Context, tx Tx, email string, u *User, m Meta, now time.Time) ([]*reservation, error) {
	if _, err := reserve(ctx, tx, s.limits.loginCalls, now, m.client()); err != nil {
		return nil, err
	}
	ip, err := reserve(ctx, tx, s.limits.failedIP, now, m.client())
	if err != nil {
		return nil, err
	}
	pair, err := reserve(ctx, tx, s.limits.failedUserIP, now, email, m.client())
	if err != nil {
		return nil, err
	}
	held := []*reservation{ip, pair}
	if s.limits.failedUserHour.Max <= 0 {
		return held, nil
	}
	if u != nil {
		known, err := tx.LoggedInFrom(ctx, u.ID, loginSource(m), now.Add(-s.cfg.AuthTTL))
		if err != nil {
			return nil, fmt.Errorf("find login source: %w", err)
		}
		if known {
			return held, nil
		}
	}
	user, err := reserve(ctx, tx, s.limits.failedUserHour, now, email)
	if err != nil {
		return nil, err
	}
	return append(held, user), nil
}

// clearLoginLimits forgets the failed logins of email: those of the hourly
// ceiling and those of the client m, who just proved to own the account.
func (s *Service) clearLoginLimits(ctx context.Context, tx Tx, email string, m Meta) error {
	if err := clearLimit(ctx, tx, s.limits.failedUserHour, email); err != nil {
		return err
	}
	return clearLimit(ctx, tx, s.limits.failedUserIP, email, m.client())
}

// loginSource is what an auth token records of the client it was issued
// to: a digest of its per-IP key, never the address itself.
func loginSource(m Meta) []byte { return Digest(m.client()) }

// Counters is the store's side of the limits: one counter per key and
// window, shared by every process on the database.
type Counters interface {
	// Reserve adds one to the counter key of the window that starts at
	// windowStart if it is below max, in one conditional statement, and
	// reports whether it did. Counters of older windows are ignored (and
	// purged eventually).
	Reserve(ctx context.Context, key string, windowStart time.Time, max int) (bool, error)
	// Release takes one back from the counter key of that window; a counter
	// at zero or absent stays so.
	Release(ctx context.Context, key string, windowStart time.Time) error
	// ClearCounter removes every window of the counter key.
	ClearCounter(ctx context.Context, key string) error
}

// key is l's counter key for subject: the limit's name and a digest of the
// subject's parts, so that no key carries an address or IP and none is ever
// parsed back.
func (l Limit) key(subject ...string) string {
	h := sha256.New()
	for _, p := range subject {
		h.Write(binary.AppendUvarint(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return l.Name + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// reservation is one event counted against a limit; release takes it back.
type reservation struct {
	key    string
	window time.Time
}

// reserve counts one event of subject against l at now, or returns
// ETHROTTLED with the time left in the window when l is full. The throttled
// Update rolls back, so every limit it reserved before stays as it was. A
// disabled limit reserves nothing.
func reserve(ctx context.Context, tx Counters, l Limit, now time.Time, subject ...string) (*reservation, error) {
	if l.Max <= 0 {
		return nil, nil
	}
	r := &reservation{key: l.key(subject...), window: now.Truncate(l.Window)}
	ok, err := tx.Reserve(ctx, r.key, r.window, l.Max)
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", l.Name, err)
	}
	if !ok {
		return nil, &throttledError{limit: l.Name, err: Throttled(r.window.Add(l.Window).Sub(now))}
	}
	return r, nil
}

// release takes back r, if any.
func (r *reservation) release(ctx context.Context, tx Counters) error {
	if r == nil {
		return nil
	}
	if err := tx.Release(ctx, r.key, r.window); err != nil {
		return fmt.Errorf("release limit: %w", err)
	}
	return nil
}

// clearLimit forgets every window of l for subject.
func clearLimit(ctx context.Context, tx Counters, l Limit, subject ...string) error {
	if err := tx.ClearCounter(ctx, l.key(subject...)); err != nil {
		return fmt.Errorf("clear %s: %w", l.Name, err)
	}
	return nil
}

// throttledError is the ETHROTTLED error of a full limit; it keeps the
// limit's name for metrics.
type throttledError struct {
	limit string
	err   *Error
}

func (t *throttledError) Error() string { return t.limit + ": " + t.err.Error() }
func (t *throttledError) As(target any) bool {
	if e, ok := target.(**Error); ok {
		*e = t.err
		return true
	}
	return false
}

// observeThrottled tells the observer which limit refused a call, if one
// did, and returns err.
func (s *Service) observeThrottled(err error) error {
	var t *throttledError
	if errors.As(err, &t) {
		s.cfg.Observer.Throttled(t.limit)
	}
	return err
}
