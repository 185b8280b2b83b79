package sqlite_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// BenchmarkResetLatencyAt1000 sends one Reset Password's writes every
// millisecond (1,000 a second, as cruxbench's fixed-rate run does) for
// b.N Updates and reports the latency quantiles: what a WAL checkpoint or a
// slow fsync on the writer's path does to p99. Run with
//
//	go test -run '^$' -bench ResetLatency -benchtime 3000x ./internal/sqlite
func BenchmarkResetLatencyAt1000(b *testing.B) {
	s := MustOpen(b)
	ctx := context.Background()
	users := benchUsers(b, s, 1000)
	lat := make([]time.Duration, b.N)
	var (
		wg  sync.WaitGroup
		seq atomic.Uint64
	)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			n := seq.Add(1)
			if err := resetWrites(ctx, s, users[n%uint64(len(users))], n); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[min(int(f*float64(len(lat))), len(lat)-1)]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
}

// benchUsers stores one organization with n users, so that tokens spread
// over users as real traffic does.
func benchUsers(b *testing.B, s *sqlite.Store, n int) []*account.User {
	b.Helper()
	ctx := context.Background()
	o := newOrg("Bench")
	us := make([]*account.User, n)
	err := s.Update(ctx, func(tx account.Tx) error {
		if err := tx.CreateOrganization(ctx, o); err != nil {
			return err
		}
		for i := range us {
			us[i] = &account.User{UUID: fmt.Sprint("u", i), PersonUUID: fmt.Sprint("p", i), OrgID: o.ID,
				Email: fmt.Sprintf("user%d@example.com", i), Status: account.StatusActive, CreatedAt: t0}
			if err := tx.CreateUser(ctx, us[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return us
}

// resetWrites is the Update of a sandbox Reset Password.
func resetWrites(ctx context.Context, s *sqlite.Store, u *account.User, n uint64) error {
	now := t0.Add(time.Duration(n) * time.Millisecond)
	return s.Update(ctx, func(tx account.Tx) error {
		uu, err := tx.UserByEmail(ctx, u.Email)
		if err != nil {
			return err
		}
		if err := tx.CreateResetToken(ctx, &account.ResetToken{Digest: digest(n), UserID: uu.ID,
			CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour)}); err != nil {
			return err
		}
		if _, err := tx.RevokeResetTokens(ctx, uu.ID, 3, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &account.AuditEvent{At: now, Action: account.AuditResetRequested,
			EmailDigest: digest(n), UserID: uu.ID, IP: "192.0.2.7", UserAgent: "bench"})
	})
}
