package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/storetest"
	"github.com/cruxd/cruxd/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// mustOpen opens a Store on dsn and closes it when the test ends.
func mustOpen(tb testing.TB, dsn string, opt Options) *Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, dsn, opt)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite every account.Store passes, each subtest on
// a fresh database.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) account.Store { return mustOpen(t, testenv.PostgresDSN(t), Options{}) })
}

// TestOneTrip runs the suite of account.OneTripStore.
func TestOneTrip(t *testing.T) {
	storetest.RunOneTrip(t, func(t *testing.T) account.Store { return mustOpen(t, testenv.PostgresDSN(t), Options{}) })
}

var _ storetest.Inspector = (*Store)(nil)

// t0 is a fixed instant; timestamptz keeps microseconds.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mustUser creates an organization and an active user in it.
func mustUser(tb testing.TB, s *Store, email string) *account.User {
	tb.Helper()
	ctx := context.Background()
	u := &account.User{UUID: "u-" + email, PersonUUID: "p-" + email, Email: email, Status: account.StatusActive,
		Permissions: []string{account.PermViewOrgUsers}, CreatedAt: t0}
	err := s.Update(ctx, func(tx account.Tx) error {
		o := &account.Organization{UUID: "o-" + email, Name: "Org " + email, Type: account.Retailer, CreatedAt: t0}
		if err := tx.CreateOrganization(ctx, o); err != nil {
			return err
		}
		u.OrgID = o.ID
		return tx.CreateUser(ctx, u)
	})
	if err != nil {
		tb.Fatalf("create user: %v", err)
	}
	return u
}

func newService(tb testing.TB, s account.Store) *account.Service {
	tb.Helper()
	policy, err := password.NewPolicy(15)
	if err != nil {
		tb.Fatal(err)
	}
	return account.NewService(s, &password.Hasher{}, policy, account.Config{}, nil)
}

// concurrently runs fn(i) for i in [0, n) at once and waits for all.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func TestMigrateConcurrentlyOnEmptyDatabase(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	errs := make([]error, 5)
	stores := make([]*Store, 5)
	concurrently(5, func(i int) {
		stores[i], errs[i] = Open(context.Background(), dsn, Options{MaxConns: 2})
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	s := stores[0]
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	var n, distinct int
	conn, err := s.pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	err = conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(migrations()); n != want || distinct != want {
		t.Errorf("schema_migrations holds %d rows (%d versions), want %d", n, distinct, want)
	}
	for i, s := range stores {
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Ping store %d: %v", i, err)
		}
	}
}

func TestOpenNoMigrate(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	_, err := Open(context.Background(), dsn, Options{NoMigrate: true})
	if err == nil {
		t.Fatal("Open with NoMigrate on an empty database succeeded")
	}
	mustOpen(t, dsn, Options{})                // migrates
	mustOpen(t, dsn, Options{NoMigrate: true}) // finds them applied
}

func TestSeedSandboxOnceFromConcurrentProcesses(t *testing.T) {
	// CountUsers in an Update serializes seeders by itself; WithLock on top
	// must not change the outcome.
	for _, withLock := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithLock=%v", withLock), func(t *testing.T) { testSeedOnce(t, withLock) })
	}
}

func testSeedOnce(t *testing.T, withLock bool) {
	dsn := testenv.PostgresDSN(t)
	const n = 5
	seeded := make([]bool, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		// Each goroutine is one process starting: open (migrate), then seed.
		ctx := context.Background()
		s, err := Open(ctx, dsn, Options{MaxConns: 2})
		if err != nil {
			errs[i] = err
			return
		}
		defer s.Close()
		svc := newService(t, s)
		seed := func() (err error) {
			seeded[i], err = svc.SeedSandbox(ctx)
			return err
		}
		if withLock {
			errs[i] = s.WithLock(ctx, seed)
		} else {
			errs[i] = seed()
		}
	})
	times := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("process %d: %v", i, errs[i])
		}
		if seeded[i] {
			times++
		}
	}
	if times != 1 {
		t.Errorf("seeded %d times, want exactly 1", times)
	}
	s := mustOpen(t, dsn, Options{})
	var users []*account.User
	if err := s.View(context.Background(), func(tx account.Tx) (err error) {
		users, err = tx.Users(context.Background())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(users) != len(account.DemoUsers) {
		t.Errorf("%d users after seeding, want %d", len(users), len(account.DemoUsers))
	}
	// The demo account logs in through a service on another Store.
	if _, err := newService(t, s).Login(context.Background(), account.DemoUsers[1].Email, account.DemoUsers[1].Password, account.Meta{}); err != nil {
		t.Errorf("demo login: %v", err)
	}
}

func TestClaimMailTwoStoresNeverShareAMessage(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	a, b := mustOpen(t, dsn, Options{}), mustOpen(t, dsn, Options{})
	ctx := context.Background()
	const total = 300
	err := a.Update(ctx, func(tx account.Tx) error {
		for i := range total {
			m := &account.OutboxMessage{Kind: account.MailReset, To: fmt.Sprintf("m%d@example.com", i),
				CreatedAt: t0.Add(time.Duration(i%17) * time.Second)}
			if err := tx.EnqueueMail(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	var mu sync.Mutex
	seen := make(map[int64]int)
	var claimErr error
	concurrently(8, func(i int) {
		s := a
		if i%2 == 1 {
			s = b
		}
		for {
			ms, err := s.ClaimMail(ctx, now, time.Minute, 7)
			mu.Lock()
			if err != nil {
				claimErr = err
			}
			for _, m := range ms {
				seen[m.ID]++
			}
			mu.Unlock()
			if err != nil || len(ms) == 0 {
				return
			}
		}
	})
	if claimErr != nil {
		t.Fatal(claimErr)
	}
	if len(seen) != total {
		t.Errorf("claimed %d distinct messages, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("message %d claimed %d times", id, n)
		}
	}
	// Nothing is due while leased; everything is once the leases lapse.
	if ms, err := b.ClaimMail(ctx, now.Add(30*time.Second), time.Minute, total); err != nil || len(ms) != 0 {
		t.Errorf("claim during leases: %d messages, %v; want none", len(ms), err)
	}
	ms, err := b.ClaimMail(ctx, now.Add(time.Minute), time.Minute, total+1)
	if err != nil || len(ms) != total {
		t.Fatalf("claim after leases lapsed: %d messages, %v; want %d", len(ms), err, total)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i-1].CreatedAt.After(ms[i].CreatedAt) {
			t.Fatalf("claimed out of due order: %v after %v", ms[i].CreatedAt, ms[i-1].CreatedAt)
		}
	}
}

func TestRecordMailAttempt(t *testing.T) {
	s := mustOpen(t, testenv.PostgresDSN(t), Options{})
	ctx := context.Background()
	var sent, failed *account.OutboxMessage
	err := s.Update(ctx, func(tx account.Tx) error {
		sent = &account.OutboxMessage{Kind: account.MailPasswordChanged, To: "a@example.com", UserID: 42,
			Meta: account.Meta{IP: "192.0.2.1", UserAgent: "ua"}, CreatedAt: t0}
		failed = &account.OutboxMessage{Kind: account.MailReset, To: "b@example.com", CreatedAt: t0}
		return errors.Join(tx.EnqueueMail(ctx, sent), tx.EnqueueMail(ctx, failed))
	})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.ClaimMail(ctx, t0, time.Minute, 10)
	if err != nil || len(ms) != 2 {
		t.Fatalf("ClaimMail: %d, %v", len(ms), err)
	}
	if got := ms[0]; got.ID != sent.ID || got.UserID != 42 || got.Meta != sent.Meta || !got.CreatedAt.Equal(t0) || got.Kind != account.MailPasswordChanged {
		t.Errorf("claimed %+v, want %+v", got, sent)
	}
	next := t0.Add(10 * time.Minute)
	err = s.Update(ctx, func(tx account.Tx) error {
		return errors.Join(
			tx.RecordMailAttempt(ctx, &account.MailAttempt{MessageID: sent.ID, At: t0, Outcome: account.MailSent}),
			tx.RecordMailAttempt(ctx, &account.MailAttempt{MessageID: failed.ID, At: t0, Outcome: account.MailFailed,
				Error: "421 try later", NextAt: next}))
	})
	if err != nil {
		t.Fatal(err)
	}
	// The failed one is due again at NextAt, lease cleared; the sent one never.
	if ms, _ := s.ClaimMail(ctx, next.Add(-time.Second), time.Minute, 10); len(ms) != 0 {
		t.Errorf("claimed %d messages before NextAt", len(ms))
	}
	ms, err = s.ClaimMail(ctx, next, time.Minute, 10)
	if err != nil || len(ms) != 1 || ms[0].ID != failed.ID || ms[0].Attempts != 1 {
		t.Fatalf("claim at NextAt: %v, %v; want the failed message with 1 attempt", ms, err)
	}
	err = s.Update(ctx, func(tx account.Tx) error {
		return tx.RecordMailAttempt(ctx, &account.MailAttempt{MessageID: 999999, At: t0, Outcome: account.MailSent})
	})
	if account.ErrorCode(err) != account.ENOTFOUND {
		t.Errorf("attempt on unknown message: %v, want ENOTFOUND", err)
	}
}

func TestConsumeResetTokenOnceAcrossStores(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	a, b := mustOpen(t, dsn, Options{}), mustOpen(t, dsn, Options{})
	ctx := context.Background()
	u := mustUser(t, a, "race@example.com")
	rt := &account.ResetToken{Digest: account.Digest("AAAAAAAAAAAAAAAAAAAA"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	err := a.Update(ctx, func(tx account.Tx) error { return tx.CreateResetToken(ctx, rt) })
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	codes := make([]string, n)
	concurrently(n, func(i int) {
		s := a
		if i%2 == 1 {
			s = b
		}
		codes[i] = account.ErrorCode(s.Update(ctx, func(tx account.Tx) error {
			_, err := tx.ConsumeResetToken(ctx, rt.Digest, t0.Add(time.Minute))
			return err
		}))
	})
	won := 0
	for i, c := range codes {
		switch c {
		case "":
			won++
		case account.ENOTFOUND:
		default:
			t.Errorf("call %d: code %q", i, c)
		}
	}
	if won != 1 {
		t.Errorf("%d calls consumed the token, want exactly 1", won)
	}
}

func TestLiveResetTokensBoundedUnderConcurrency(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	a, b := mustOpen(t, dsn, Options{}), mustOpen(t, dsn, Options{})
	ctx := context.Background()
	u := mustUser(t, a, "many@example.com")
	const n, keep = 20, 3
	errs := make([]error, n)
	digests := make([][]byte, n)
	concurrently(n, func(i int) {
		s := a
		if i%2 == 1 {
			s = b
		}
		errs[i] = s.Update(ctx, func(tx account.Tx) error {
			now := t0.Add(time.Duration(i) * time.Millisecond)
			rt := &account.ResetToken{Digest: account.Digest(fmt.Sprint("token", i)), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := tx.CreateResetToken(ctx, rt); err != nil {
				return err
			}
			digests[i] = rt.Digest
			_, err := tx.RevokeResetTokens(ctx, u.ID, keep, now)
			return err
		})
	})
	live := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("issue %d: %v", i, errs[i])
		}
		err := a.View(ctx, func(tx account.Tx) error {
			_, err := tx.LiveResetToken(ctx, digests[i], t0.Add(time.Second))
			return err
		})
		if err == nil {
			live++
		}
	}
	if live != keep {
		t.Errorf("%d live tokens, want %d", live, keep)
	}
}

// TestReserveAcrossStores: of concurrent reservations from two stores on one
// database, exactly max pass.
func TestReserveAcrossStores(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	a, b := mustOpen(t, dsn, Options{}), mustOpen(t, dsn, Options{})
	ctx := context.Background()
	const n, max = 100, 37
	got := make([]bool, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		s := a
		if i%2 == 1 {
			s = b
		}
		errs[i] = s.Update(ctx, func(tx account.Tx) (err error) {
			got[i], err = tx.Reserve(ctx, "k", t0, max)
			return err
		})
	})
	accepted := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("reserve %d: %v", i, errs[i])
		}
		if got[i] {
			accepted++
		}
	}
	if accepted != max {
		t.Errorf("%d reservations accepted, want %d", accepted, max)
	}
	// A newer window starts afresh and purges the older one.
	err := a.Update(ctx, func(tx account.Tx) error {
		if ok, err := tx.Reserve(ctx, "k", t0.Add(time.Minute), 1); err != nil || !ok {
			return fmt.Errorf("reserve in new window = %v, %v", ok, err)
		}
		if ok, err := tx.Reserve(ctx, "k", t0, 1); err != nil || !ok {
			return fmt.Errorf("old window not purged: reserve = %v, %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestErrorCodes(t *testing.T) {
	s := mustOpen(t, testenv.PostgresDSN(t), Options{})
	ctx := context.Background()
	u := mustUser(t, s, "dup@example.com")
	err := s.Update(ctx, func(tx account.Tx) error {
		dup := &account.User{UUID: "other", PersonUUID: "other-p", OrgID: u.OrgID, Email: u.Email,
			Status: account.StatusActive, CreatedAt: t0}
		if err := tx.CreateUser(ctx, dup); account.ErrorCode(err) != account.ECONFLICT {
			return fmt.Errorf("duplicate e-mail: %v, want ECONFLICT", err)
		}
		// A conflict leaves the transaction usable.
		if _, err := tx.UserByEmail(ctx, u.Email); err != nil {
			return fmt.Errorf("lookup after conflict: %v", err)
		}
		o := &account.Organization{UUID: "x", Name: "Org dup@example.com", Type: account.Supplier, CreatedAt: t0}
		if err := tx.CreateOrganization(ctx, o); account.ErrorCode(err) != account.ECONFLICT {
			return fmt.Errorf("duplicate organization: %v, want ECONFLICT", err)
		}
		for name, err := range map[string]error{
			"UserByID":    second(tx.UserByID(ctx, 999999)),
			"UserByEmail": second(tx.UserByEmail(ctx, "nobody@example.com")),
			"UserByUUID":  second(tx.UserByUUID(ctx, "nope")),
			"OrgByName":   second(tx.OrganizationByName(ctx, "nope")),
			"Live":        second(tx.LiveResetToken(ctx, account.Digest("x"), t0)),
			"Consume":     second(tx.ConsumeResetToken(ctx, account.Digest("x"), t0)),
			"ByAuth":      second(tx.UserByAuthToken(ctx, account.Digest("x"), time.Time{})),
			"SetPassword": tx.SetPassword(ctx, 999999, "h"),
		} {
			if account.ErrorCode(err) != account.ENOTFOUND {
				return fmt.Errorf("%s: %v, want ENOTFOUND", name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	got := mustGetUser(t, s, u.Email)
	if got.Org == nil || got.Org.ID != u.OrgID || got.Permissions[0] != account.PermViewOrgUsers || !got.CreatedAt.Equal(t0) {
		t.Errorf("UserByEmail = %+v", got)
	}
}

func second[T any](_ T, err error) error { return err }

func mustGetUser(tb testing.TB, s *Store, email string) *account.User {
	tb.Helper()
	var u *account.User
	err := s.View(context.Background(), func(tx account.Tx) (err error) {
		u, err = tx.UserByEmail(context.Background(), email)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func TestViewIsReadOnly(t *testing.T) {
	s := mustOpen(t, testenv.PostgresDSN(t), Options{})
	ctx := context.Background()
	err := s.View(ctx, func(tx account.Tx) error {
		_, err := tx.Reserve(ctx, "k", t0, 10)
		return err
	})
	if err == nil {
		t.Error("a write in View succeeded")
	}
}

func TestStatementTimeoutIsUnavailable(t *testing.T) {
	s := mustOpen(t, testenv.PostgresDSN(t), Options{StatementTimeout: 100 * time.Millisecond})
	ctx := context.Background()
	start := time.Now()
	err := s.View(ctx, func(atx account.Tx) error {
		_, err := atx.(*tx).tx.Exec(ctx, `SELECT pg_sleep(5)`)
		return wrap("sleep", err)
	})
	if account.ErrorCode(err) != account.EUNAVAILABLE {
		t.Errorf("slow statement: %v, want EUNAVAILABLE", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("slow statement took %v", d)
	}
}

func TestPoolExhaustedIsUnavailable(t *testing.T) {
	s := mustOpen(t, testenv.PostgresDSN(t), Options{MaxConns: 1, AcquireTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	// Warm the pool: dialing may take longer than AcquireTimeout on a
	// loaded machine.
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	hold, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.View(ctx, func(account.Tx) error { close(hold); <-release; return nil })
	}()
	select {
	case <-hold:
	case err := <-done:
		t.Fatalf("View holding the only connection: %v", err)
	}
	err = s.View(ctx, func(account.Tx) error { return nil })
	close(release)
	if account.ErrorCode(err) != account.EUNAVAILABLE {
		t.Errorf("View with the pool exhausted: %v, want EUNAVAILABLE", err)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
	// WithLock holds its lock outside the pool, so fn may use the one
	// connection.
	if err := s.WithLock(ctx, func() error { return s.View(ctx, func(account.Tx) error { return nil }) }); err != nil {
		t.Errorf("WithLock on a one-connection pool: %v", err)
	}
}

func TestOpenUnreachableFailsFast(t *testing.T) {
	// A listener that never answers: the TCP handshake completes in the
	// kernel, the PostgreSQL startup never does.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	_, err = Open(context.Background(), "postgres://cruxd@"+l.Addr().String()+"/cruxd?sslmode=disable",
		Options{ConnectTimeout: 300 * time.Millisecond})
	if account.ErrorCode(err) != account.EUNAVAILABLE {
		t.Errorf("Open on a silent server: %v, want EUNAVAILABLE", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open on a silent server took %v", d)
	}
}

func TestOutage(t *testing.T) {
	srv := testenv.StartPostgres(t)
	s := mustOpen(t, srv.DSN(), Options{})
	ctx := context.Background()
	u := mustUser(t, s, "outage@example.com")
	update := func() error {
		return s.Update(ctx, func(tx account.Tx) error { _, err := tx.Reserve(ctx, "outage", t0, 10); return err })
	}
	view := func() error {
		return s.View(ctx, func(tx account.Tx) error { _, err := tx.UserByID(ctx, u.ID); return err })
	}
	for name, call := range map[string]func() error{"Update": update, "View": view} {
		if err := call(); err != nil {
			t.Fatalf("%s before the outage: %v", name, err)
		}
	}

	srv.Stop(t)
	for name, call := range map[string]func() error{
		"Update": update, "View": view, "Ping": func() error { return s.Ping(ctx) },
		"ClaimMail": func() error { _, err := s.ClaimMail(ctx, t0, time.Minute, 1); return err },
		"WithLock":  func() error { return s.WithLock(ctx, func() error { return nil }) },
	} {
		start := time.Now()
		err := call()
		d := time.Since(start)
		if account.ErrorCode(err) != account.EUNAVAILABLE {
			t.Errorf("%s while down: %v, want EUNAVAILABLE", name, err)
		}
		if d > 2*time.Second {
			t.Errorf("%s while down took %v, want at most 2s", name, d)
		}
		t.Logf("%s while down failed in %v", name, d.Round(time.Millisecond))
	}

	srv.Start(t)
	start := time.Now()
	deadline := start.Add(5 * time.Second)
	for name, call := range map[string]func() error{"Update": update, "View": view} {
		for {
			err := call()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still failing 5s after the restart: %v", name, err)
			}
			if account.ErrorCode(err) != account.EUNAVAILABLE {
				t.Errorf("%s after the restart: %v, want EUNAVAILABLE until it recovers", name, err)
			}
			time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
		}
	}
	t.Logf("recovered %v after the restart", time.Since(start).Round(time.Millisecond))
}

func TestPurgeStatsAuditByEmail(t *testing.T) {
	s := mustOpen(t, testenv.PostgresDSN(t), Options{})
	ctx := context.Background()
	u := mustUser(t, s, "purge@example.com")
	used := t0.Add(time.Minute)
	err := s.Update(ctx, func(tx account.Tx) error {
		for i, rt := range []*account.ResetToken{
			{Digest: account.Digest("used"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour), UsedAt: &used},
			{Digest: account.Digest("expired"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Digest: account.Digest("live"), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(3 * time.Hour)},
		} {
			if err := tx.CreateResetToken(ctx, rt); err != nil {
				return fmt.Errorf("token %d: %w", i, err)
			}
		}
		for i := range 3 {
			e := &account.AuditEvent{At: t0.Add(time.Duration(i) * time.Hour), Action: account.AuditResetRequested,
				EmailDigest: account.Digest(u.Email), UserID: u.ID}
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		if _, err := tx.Reserve(ctx, "old", t0, 10); err != nil {
			return err
		}
		return tx.EnqueueMail(ctx, &account.OutboxMessage{Kind: account.MailReset, To: u.Email, CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(atx account.Tx) error {
		tx := atx.(*tx)
		st, err := tx.Stats(ctx, t0.Add(90*time.Minute))
		if err != nil {
			return err
		}
		if st.MailPending != 1 || !st.OldestPending.Equal(t0) || st.ResetTokensExpired != 1 {
			t.Errorf("Stats = %+v, want 1 pending since t0 and 1 expired token", st)
		}
		// The count of expired tokens stops at the limit.
		if st, err := tx.stats(ctx, t0.Add(90*time.Minute), 0); err != nil || st.ResetTokensExpired != 0 {
			t.Errorf("stats with limit 0 counted %d expired tokens, %v", st.ResetTokensExpired, err)
		}
		evs, err := tx.AuditByEmail(ctx, account.Digest(u.Email), 2)
		if err != nil {
			return err
		}
		if len(evs) != 2 || !evs[0].At.Equal(t0) || evs[1].ID <= evs[0].ID {
			t.Errorf("AuditByEmail = %d events, want the oldest 2", len(evs))
		}
		before := t0.Add(90 * time.Minute)
		for kind, want := range map[account.PurgeKind]int{
			account.PurgeResetTokens: 2, account.PurgeAudit: 2, account.PurgeCounters: 1,
			account.PurgeOutbox: 0, account.PurgeAuthTokens: 0, account.PurgeExpiredAuthTokens: 0,
		} {
			n, err := tx.Purge(ctx, kind, before, 10)
			if err != nil || n != want {
				t.Errorf("Purge(%s) = %d, %v; want %d", kind, n, err, want)
			}
		}
		_, err = tx.Purge(ctx, "nonsense", before, 10)
		if account.ErrorCode(err) != account.EINVALID {
			t.Errorf("Purge of an unknown kind: %v, want EINVALID", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
