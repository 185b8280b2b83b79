package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/cruxdtest"
	"github.com/cruxd/cruxd/internal/postgres"
	"github.com/cruxd/cruxd/internal/testenv"
)

// These tests run two real cruxd processes on one PostgreSQL database, as
// behind a load balancer.

const pgNewPassword = "a long and uncommon passphrase 42"

// pgStartPair starts two sandbox cruxd processes at once on dsn (an empty
// database: both migrate and try to seed) with extra args.
func pgStartPair(t *testing.T, dsn string, args ...string) (a, b *cruxdtest.Process) {
	t.Helper()
	var wg sync.WaitGroup
	ps := make([]*cruxdtest.Process, 2)
	for i := range ps {
		wg.Go(func() { ps[i] = cruxdtest.Start(t, append([]string{"--db", dsn}, args...)) })
	}
	wg.Wait()
	if ps[0] == nil || ps[1] == nil {
		t.FailNow() // Start reported why
	}
	return ps[0], ps[1]
}

// pgResetToken asks p for a reset of email and returns the sandbox token.
func pgResetToken(t *testing.T, p *cruxdtest.Process, email string) string {
	t.Helper()
	r := p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": email})
	var got struct {
		ResetToken string `json:"reset_token"`
	}
	r.JSON(t, &got)
	if r.Status != 200 || len(got.ResetToken) != account.ResetTokenLen {
		t.Fatalf("reset %s: %d %s", email, r.Status, r.Body)
	}
	return got.ResetToken
}

func pgValidatePath(token string) string {
	return "/organizations/complete-password/?token=" + url.QueryEscape(token)
}

func TestPostgresTwoProcessesOneDatabase(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	a, b := pgStartPair(t, dsn)

	// Both migrated and tried to seed the empty database at once; exactly
	// one seeded.
	seeded := 0
	for _, p := range []*cruxdtest.Process{a, b} {
		if strings.Contains(p.Stdout(), "seeded the demo accounts") {
			seeded++
		}
	}
	if seeded != 1 {
		t.Errorf("%d processes seeded the demo accounts, want 1\nA:\n%s\nB:\n%s", seeded, a.Stdout(), b.Stdout())
	}
	demo := account.DemoUsers[1]
	for _, p := range []*cruxdtest.Process{a, b} {
		r := p.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": demo.Email, "password": demo.Password})
		if r.Status != 200 {
			t.Fatalf("demo login: %d %s", r.Status, r.Body)
		}
	}

	// A token issued through A is validated and spent through B.
	token := pgResetToken(t, a, demo.Email)
	r := b.Do(t, "GET", pgValidatePath(token), nil)
	if got := r.Map(t); r.Status != 200 || got["email"] != demo.Email {
		t.Fatalf("validate through B: %d %s", r.Status, r.Body)
	}
	r = b.Do(t, "POST", "/organizations/complete-password/", map[string]string{"token": token, "password": pgNewPassword})
	if r.Status != 204 {
		t.Fatalf("complete through B: %d %s", r.Status, r.Body)
	}
	for name, p := range map[string]*cruxdtest.Process{"A": a, "B": b} {
		if r := p.Do(t, "GET", pgValidatePath(token), nil); r.Status != 404 {
			t.Errorf("validate the spent token through %s: %d %s", name, r.Status, r.Body)
		}
	}
	r = a.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": demo.Email, "password": pgNewPassword})
	if r.Status != 200 {
		t.Errorf("login with the new password through A: %d %s", r.Status, r.Body)
	}
	r = a.Do(t, "POST", "/organizations/user-login/", map[string]string{"username": demo.Email, "password": demo.Password})
	if r.Status != 401 {
		t.Errorf("login with the old password through A: %d %s", r.Status, r.Body)
	}
}

func TestPostgresConcurrentCompleteOneWinner(t *testing.T) {
	t.Parallel()
	a, b := pgStartPair(t, testenv.PostgresDSN(t))
	token := pgResetToken(t, b, account.DemoUsers[1].Email)
	const n = 100
	status := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		p := a
		if i%2 == 1 {
			p = b
		}
		wg.Go(func() {
			<-start
			r := p.Do(t, "POST", "/organizations/complete-password/",
				map[string]string{"token": token, "password": fmt.Sprintf("%s %d", pgNewPassword, i)})
			status[i] = r.Status
		})
	}
	close(start)
	wg.Wait()
	count := make(map[int]int)
	for _, s := range status {
		count[s]++
	}
	if count[204] != 1 || count[404] != n-1 {
		t.Errorf("statuses %v, want one 204 and %d 404", count, n-1)
	}
}

func TestPostgresLimitsShared(t *testing.T) {
	t.Parallel()
	a, b := pgStartPair(t, testenv.PostgresDSN(t), "--limits")
	limit := account.ProductionLimits.ResetCallsPerIPMinute
	count := make(map[int]int)
	for i := range limit + 5 {
		p := a
		if i%2 == 1 {
			p = b
		}
		r := p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": account.DemoUsers[0].Email})
		count[r.Status]++
	}
	// A minute boundary in the middle would start a new window; allow it.
	if count[200]+count[429] != limit+5 || count[429] == 0 || count[200] < limit {
		t.Errorf("statuses %v, want %d 200 then 429s across both processes", count, limit)
	}
}

func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	srv := testenv.StartPostgres(t)
	p := serve(t, []string{"--db", srv.DSN()})
	token := pgResetToken(t, p, account.DemoUsers[1].Email)
	validate := func() *cruxdtest.Response { return p.Do(t, "GET", pgValidatePath(token), nil) }
	if r := validate(); r.Status != 200 {
		t.Fatalf("validate before the outage: %d %s", r.Status, r.Body)
	}

	srv.Stop(t)
	calls := map[string]func() *cruxdtest.Response{
		"validate": validate,
		"reset": func() *cruxdtest.Response {
			return p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": account.DemoUsers[0].Email})
		},
		"login": func() *cruxdtest.Response {
			return p.Do(t, "POST", "/organizations/user-login/",
				map[string]string{"username": account.DemoUsers[1].Email, "password": account.DemoUsers[1].Password})
		},
	}
	for name, call := range calls {
		start := time.Now()
		r := call()
		d := time.Since(start)
		if r.Status != 503 {
			t.Errorf("%s while PostgreSQL is down: %d %s, want 503", name, r.Status, r.Body)
		}
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s while PostgreSQL is down: no Retry-After", name)
		}
		if d > 2*time.Second {
			t.Errorf("%s while PostgreSQL is down took %v, want at most 2s", name, d)
		}
		t.Logf("%s while down: %d in %v", name, r.Status, d.Round(time.Millisecond))
	}

	srv.Start(t)
	start := time.Now()
	for {
		r := validate()
		if r.Status == 200 {
			break
		}
		if r.Status != 503 {
			t.Errorf("validate while recovering: %d %s, want 503 or 200", r.Status, r.Body)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("cruxd still answers %d 5s after PostgreSQL returned", r.Status)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
	t.Logf("recovered %v after PostgreSQL returned", time.Since(start).Round(time.Millisecond))
}

// TestPostgresOutboxDeliveredOnce: two production processes share one
// outbox; each message is claimed by one of them and mailed exactly once.
func TestPostgresOutboxDeliveredOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	store, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := account.NewService(store, nil, nil, account.Config{}, nil)
	if _, err := svc.CreateOrganization(ctx, "Crux Supplier", account.Supplier); err != nil {
		t.Fatal(err)
	}
	const n = 40
	addr := func(i int) string { return fmt.Sprintf("user%02d@cruxsupplier.com", i) }
	for i := range n {
		// The hash is never verified here; production never seeds.
		nu := account.NewUser{OrgName: "Crux Supplier", Email: addr(i), FirstName: "U", Hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}
		if _, err := svc.CreateUser(ctx, nu); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()

	mp := testenv.StartMailpit(t)
	args := []string{"--mode", "production", "--db", dsn, "--public-url", "https://accounts.example.com",
		"--smtp-url", mp.SMTPURL(), "--limit-reset-calls", "0", "--mail-retry-min", "100ms"}
	a, b := pgStartPair(t, dsn, args...)
	var wg sync.WaitGroup
	for i := range n {
		p := a
		if i%2 == 1 {
			p = b
		}
		wg.Go(func() {
			r := p.Do(t, "POST", "/organizations/reset-password/", map[string]string{"email": addr(i)})
			if r.Status != 200 {
				t.Errorf("reset %s: %d %s", addr(i), r.Status, r.Body)
			}
		})
	}
	wg.Wait()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var pending int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE status = 'pending'`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still pending after 60s\nA:\n%s\nB:\n%s", pending, a.Stderr(), b.Stderr())
		}
		time.Sleep(50 * time.Millisecond) // polling a condition
	}
	var msgs, sent, attempts int
	err = conn.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE status = 'sent'),
			(SELECT count(*) FROM mail_attempts) FROM outbox`).Scan(&msgs, &sent, &attempts)
	if err != nil {
		t.Fatal(err)
	}
	if msgs != n || sent != n || attempts != n {
		t.Errorf("outbox: %d messages, %d sent, %d attempts; want %d of each", msgs, sent, attempts, n)
	}
	got := mp.Messages(t)
	perAddr := make(map[string]int)
	for _, m := range got {
		for _, to := range m.To {
			perAddr[to]++
		}
	}
	for i := range n {
		if perAddr[addr(i)] != 1 {
			t.Errorf("%s received %d mails, want 1", addr(i), perAddr[addr(i)])
		}
	}
	if len(got) != n {
		t.Errorf("Mailpit received %d mails, want %d", len(got), n)
	}
	t.Logf("mails sent by A: %d, by B: %d", strings.Count(a.Stderr(), `msg="mail sent"`), strings.Count(b.Stderr(), `msg="mail sent"`))
}
