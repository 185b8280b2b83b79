package account_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
)

// The hot paths of Reset Password and Validate on the real SQLite store,
// durable commits included. Run with
//
//	go test -run '^$' -bench . -benchtime 2000x ./internal/account

// benchUsers adds n active users to store and returns their addresses.
func benchUsers(b *testing.B, store account.Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	emails := make([]string, n)
	err := store.Update(ctx, func(tx account.Tx) error {
		o := &account.Organization{UUID: "bench-org", Name: "Bench", Type: account.Supplier}
		if err := tx.CreateOrganization(ctx, o); err != nil {
			return err
		}
		for i := range emails {
			emails[i] = fmt.Sprintf("bench%d@example.com", i)
			u := &account.User{UUID: fmt.Sprintf("bench-u%d", i), PersonUUID: fmt.Sprintf("bench-p%d", i),
				OrgID: o.ID, Email: emails[i], Status: account.StatusActive}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return emails
}

// BenchmarkRequestReset is one caller issuing tokens: every call waits for
// its own fsync.
func BenchmarkRequestReset(b *testing.B) {
	svc, store := openBench(b)
	emails := benchUsers(b, store, 1000)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := svc.RequestReset(ctx, emails[i%len(emails)], account.Meta{IP: "127.0.0.1"}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRequestResetParallel is 32 callers issuing tokens at once: group
// commit shares the fsyncs.
func BenchmarkRequestResetParallel(b *testing.B) {
	svc, store := openBench(b)
	emails := benchUsers(b, store, 1000)
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			if _, err := svc.RequestReset(ctx, emails[int(i)%len(emails)], account.Meta{IP: "127.0.0.1"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchTokens issues one live token for each of n users of svc's store.
func benchTokens(b *testing.B, svc *account.Service, store account.Store, n int) []string {
	b.Helper()
	emails := benchUsers(b, store, n)
	toks := make([]string, n)
	for i, e := range emails {
		toks[i] = mustReset(b, svc, e)
	}
	return toks
}

// BenchmarkValidateReset checks live tokens one at a time.
func BenchmarkValidateReset(b *testing.B) {
	svc, store := openBench(b)
	toks := benchTokens(b, svc, store, 200)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := svc.ValidateReset(ctx, toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkValidateResetParallel checks live tokens from many goroutines,
// as the read pool serves them.
func BenchmarkValidateResetParallel(b *testing.B) {
	svc, store := openBench(b)
	toks := benchTokens(b, svc, store, 200)
	ctx := context.Background()
	var seq atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.ValidateReset(ctx, toks[int(seq.Add(1))%len(toks)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLoginParallel is cruxbench's Login saturation without HTTP: 4
// callers per core log in with the right password, so each call costs one
// argon2id verification under the hash slots, one read and one durable
// write. Compare logins/s with cores ÷ BenchmarkHash in internal/password:
//
//	go test -run '^$' -bench LoginParallel -benchtime 400x ./internal/account
func BenchmarkLoginParallel(b *testing.B) {
	svc, store := openBench(b)
	emails := benchUsers(b, store, 100)
	h, err := password.NewHasher(password.DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := h.Hash(goodPW)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	err = store.Update(ctx, func(tx account.Tx) error {
		for _, e := range emails {
			u, err := tx.UserByEmail(ctx, e)
			if err != nil {
				return err
			}
			if err := tx.SetPassword(ctx, u.ID, enc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := emails[int(seq.Add(1))%len(emails)]
			if _, err := svc.Login(ctx, e, goodPW, account.Meta{IP: "127.0.0.1"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}

// openBench returns a Service on a fresh SQLite file, and its store.
func openBench(b *testing.B) (*account.Service, account.Store) {
	b.Helper()
	return mustOpenStoreService(b, filepath.Join(b.TempDir(), "cruxd.db"), account.Config{})
}
