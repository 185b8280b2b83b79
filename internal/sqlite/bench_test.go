package sqlite_test

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// benchUser stores one organization and user to hang tokens on.
func benchUser(b *testing.B, s *sqlite.Store) *account.User {
	b.Helper()
	ctx := context.Background()
	o := newOrg("Crux Supplier")
	u := &account.User{UUID: "u1", PersonUUID: "p1", Email: "rbreslawski@cruxsupplier.com",
		Status: account.StatusActive, Permissions: []string{account.PermViewOrgUsers}, CreatedAt: t0}
	err := s.Update(ctx, func(tx account.Tx) error {
		if err := tx.CreateOrganization(ctx, o); err != nil {
			return err
		}
		u.OrgID = o.ID
		return tx.CreateUser(ctx, u)
	})
	if err != nil {
		b.Fatal(err)
	}
	return u
}

func digest(n uint64) []byte {
	var d [32]byte
	binary.BigEndian.PutUint64(d[:], n)
	return d[:]
}

// BenchmarkUpdateParallel measures durable Updates from many goroutines,
// each inserting one reset token: group commit shares each fsync.
func BenchmarkUpdateParallel(b *testing.B) {
	s := MustOpen(b)
	u := benchUser(b, s)
	ctx := context.Background()
	var seq atomic.Uint64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			err := s.Update(ctx, func(tx account.Tx) error {
				return tx.CreateResetToken(ctx, &account.ResetToken{Digest: digest(n), UserID: u.ID,
					CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkResetRequestParallel runs the writes of a sandbox Reset
// Password call (resetWrites: user lookup, token id and insert, retirement of old
// tokens and an audit entry) from many goroutines.
// Sub-benchmarks commit with group commit (up to maxBatch Updates per
// transaction) and without (one Update per transaction).
func BenchmarkResetRequestParallel(b *testing.B) {
	b.Run("group", func(b *testing.B) { benchResetRequests(b, 0) })
	b.Run("single", func(b *testing.B) { benchResetRequests(b, 1) })
}

func benchResetRequests(b *testing.B, maxBatch int) {
	s := MustOpen(b)
	if maxBatch > 0 {
		sqlite.SetMaxBatch(s, maxBatch)
	}
	u := benchUser(b, s)
	ctx := context.Background()
	var seq atomic.Uint64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := resetWrites(ctx, s, u, seq.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkView measures parallel read transactions that look a user up by
// e-mail and a reset token by digest, as Validate Password Reset does.
func BenchmarkView(b *testing.B) {
	s := MustOpen(b)
	u := benchUser(b, s)
	ctx := context.Background()
	rt := &account.ResetToken{Digest: digest(1), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)}
	if err := s.Update(ctx, func(tx account.Tx) error { return tx.CreateResetToken(ctx, rt) }); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := s.View(ctx, func(tx account.Tx) error {
				t, err := tx.LiveResetToken(ctx, rt.Digest, t0)
				if err != nil {
					return err
				}
				_, err = tx.UserByID(ctx, t.UserID)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
