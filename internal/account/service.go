package account

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"
)

// Mode is the environment of API.md: sandbox or production.
type Mode string

// Modes.
const (
	Sandbox    Mode = "sandbox"
	Production Mode = "production"
)

// PasswordHasher hashes and verifies passwords (internal/password).
type PasswordHasher interface {
	Hash(plain string) (string, error)
	// Verify reports whether plain matches encoded and whether encoded
	// should be replaced by a hash with the current parameters.
	Verify(plain, encoded string) (ok, rehash bool, err error)
	// CurrentPrefix is how every hash Hash makes starts; a stored hash that
	// does not is legacy.
	CurrentPrefix() string
	// FailureCost returns what a failed login spends when the store holds
	// the legacy hashes stored: called after Verify(plain, own) failed
	// (own "" when nothing was verified), it verifies plain against dummy
	// hashes so that every failure costs the same whatever the account's
	// hash, or none.
	FailureCost(stored []string) func(plain, own string)
}

// PasswordPolicy decides whether a new password is acceptable; its error
// message is the reason shown to the user.
type PasswordPolicy interface {
	Check(password, email string) error
}

// Defaults of Config (API.md's where it sets them).
const (
	DefaultResetTTL     = 2 * time.Hour
	DefaultAuthTTL      = 30 * 24 * time.Hour
	DefaultHashWait     = 500 * time.Millisecond
	DefaultMailRetryMin = 30 * time.Second
)

// Config holds the Service's settings; zero fields take the defaults.
type Config struct {
	Mode            Mode
	ResetTTL        time.Duration // default DefaultResetTTL
	LiveResetTokens int           // default 3
	LiveAuthTokens  int           // a user's auth tokens; a login revokes the oldest past it; default 10
	HashConcurrency int           // hashes run at once; default GOMAXPROCS
	HashWait        time.Duration // how long a hash may queue before ErrOverloaded; default DefaultHashWait
	Limits          Limits        // the limits applied, none when zero: see LimitsInForce
	AuthTTL         time.Duration // lifetime of an auth token; default DefaultAuthTTL
	// Mail says whether mails are delivered (an SMTP server is configured).
	// In sandbox without it, nothing is queued and the log notes "not sent".
	Mail bool
	// A mail whose delivery failed is retried after MailRetryMin (default
	// DefaultMailRetryMin), then after twice as long each time up to MailRetryMax (default
	// 1h), until MailRetryFor (default 24h) has passed since it was queued.
	MailRetryMin time.Duration
	MailRetryMax time.Duration
	MailRetryFor time.Duration
	// MailLease is how long RunOutbox leases the messages it claims
	// (default OutboxLease): a message whose worker died mid-send is
	// delivered again once its lease lapses.
	MailLease time.Duration
	// MailSenders is how many mails the outbox worker handles at once
	// (default DefaultMailSenders): each is rendered, sent and handed to
	// the recorder by a sender of its own. Set it above the Mailer's
	// connection limit, so that a connection never waits for a mail to
	// be rendered.
	MailSenders int
	// Observer is told what happens, for metrics; nil means nobody.
	Observer Observer
}

func (c *Config) setDefaults() {
	if c.Mode == "" {
		c.Mode = Sandbox
	}
	if c.ResetTTL <= 0 {
		c.ResetTTL = DefaultResetTTL
	}
	if c.AuthTTL <= 0 {
		c.AuthTTL = DefaultAuthTTL
	}
	if c.LiveResetTokens <= 0 {
		c.LiveResetTokens = 3
	}
	if c.LiveAuthTokens <= 0 {
		c.LiveAuthTokens = 10
	}
	if c.HashConcurrency <= 0 {
		c.HashConcurrency = runtime.GOMAXPROCS(0)
	}
	if c.HashWait <= 0 {
		c.HashWait = DefaultHashWait
	}
	if c.MailRetryMin <= 0 {
		c.MailRetryMin = DefaultMailRetryMin
	}
	if c.MailRetryMax <= 0 {
		c.MailRetryMax = time.Hour
	}
	if c.MailRetryFor <= 0 {
		c.MailRetryFor = 24 * time.Hour
	}
	if c.MailLease <= 0 {
		c.MailLease = OutboxLease
	}
	if c.MailSenders <= 0 {
		c.MailSenders = DefaultMailSenders
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

// Service owns every rule of cruxd. The HTTP API, the reset pages and the CLI
// all call it.
type Service struct {
	store  Store
	hasher PasswordHasher
	policy PasswordPolicy
	cfg    Config
	log    *slog.Logger

	// Now and Rand are the clock and the randomness; tests replace them.
	Now  func() time.Time
	Rand io.Reader

	limits     limitSet
	hashSlots  chan struct{}
	tokenLocks keyedMutex
	mailQueued chan struct{}          // wakes RunOutbox when a mail was queued
	mailIDKey  atomic.Pointer[[]byte] // nil until a committed transaction read it
	failure    failureCost
}

// NewService returns a Service on store. A nil logger discards.
func NewService(store Store, hasher PasswordHasher, policy PasswordPolicy, cfg Config, log *slog.Logger) *Service {
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		store:      store,
		hasher:     hasher,
		policy:     policy,
		cfg:        cfg,
		limits:     newLimitSet(cfg.Limits),
		log:        log,
		Now:        time.Now,
		Rand:       rand.Reader,
		hashSlots:  make(chan struct{}, cfg.HashConcurrency),
		mailQueued: make(chan struct{}, 1),
	}
}

// Config returns the settings in force, defaults applied.
func (s *Service) Config() Config { return s.cfg }

// Ready reports whether the store answers and holds every migration, for
// the health checks.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

func (s *Service) now() time.Time { return s.Now().UTC() }

// withHashSlot runs fn once one of the bounded hash slots is free, or returns
// ErrOverloaded if none frees up within HashWait.
func (s *Service) withHashSlot(ctx context.Context, fn func() error) error {
	start := time.Now()
	t := time.NewTimer(s.cfg.HashWait)
	defer t.Stop()
	select {
	case s.hashSlots <- struct{}{}:
		s.cfg.Observer.HashWaited(time.Since(start))
	case <-t.C:
		s.cfg.Observer.HashWaited(time.Since(start))
		return ErrOverloaded
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashSlots }()
	return fn()
}

// hash hashes a password under the concurrency bound.
func (s *Service) hash(ctx context.Context, plain string) (string, error) {
	var h string
	err := s.withHashSlot(ctx, func() (err error) {
		h, err = s.hasher.Hash(plain)
		return err
	})
	return h, err
}

// hashNew checks a new password of the account at email against the policy
// and hashes it, both in one hash slot: the policy's strength estimate costs
// CPU too, so it shares the bound. EINVALID on the "password" field when the
// policy refuses it.
func (s *Service) hashNew(ctx context.Context, plain, email string) (string, error) {
	var h string
	err := s.withHashSlot(ctx, func() error {
		if err := s.policy.Check(plain, email); err != nil {
			return FieldError(EINVALID, "password", err.Error())
		}
		var err error
		h, err = s.hasher.Hash(plain)
		return err
	})
	return h, err
}

// storeErr passes domain errors and errors the store already classified, and
// turns a timed-out store call into EUNAVAILABLE: callers see 503, not a
// hang or a 500, while the database is slow or away.
func storeErr(err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Unavailable(err)
	}
	return err
}
