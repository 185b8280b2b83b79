package account

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// A failed login for an account whose imported hash was never replaced
// used to take several times as long as one for an unknown user, which
// told who had such an account. Every failed login now costs the same: one
// verification of each hash cost still present in the store (the hasher's
// FailureCost). The store is read for that at most once a failureCostTTL,
// so an import is felt within that time; once no legacy hash remains, a
// failed login costs one argon2id verification, as it always did.
const failureCostTTL = time.Minute

// failureCost caches the hasher's FailureCost for the store's legacy hashes.
type failureCost struct {
	mu    sync.Mutex
	spend func(plain, own string)
	at    time.Time
}

// failureSpend returns what a failed login must spend, reading the store's
// legacy hashes when the cached answer is older than failureCostTTL. If the
// store cannot answer, the last answer stands (at first: as if no legacy
// hash remained).
func (s *Service) failureSpend(ctx context.Context) func(plain, own string) {
	f := &s.failure
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if f.spend != nil && now.Sub(f.at) < failureCostTTL {
		return f.spend
	}
	var hashes []string
	err := s.store.View(ctx, func(tx Tx) (err error) {
		hashes, err = tx.LegacyPasswordHashes(ctx, s.hasher.CurrentPrefix())
		return err
	})
	if err != nil {
		s.log.Warn("read legacy password hashes", "err", err)
		if f.spend == nil {
			f.spend = s.hasher.FailureCost(nil)
		}
		return f.spend
	}
	f.spend, f.at = s.hasher.FailureCost(hashes), now
	return f.spend
}

// ExpireLegacyHashes ends a migration: every account created before before
// whose password hash is still a legacy one (imported, never replaced at a
// login) loses it. Such an account's login then fails like a wrong
// password; its owner sets a new password through a reset mail. It returns
// how many accounts lost their hash; each is recorded in the audit trail.
func (s *Service) ExpireLegacyHashes(ctx context.Context, before time.Time, by Meta) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx Tx) error {
		us, err := tx.ClearLegacyPasswords(ctx, s.hasher.CurrentPrefix(), before)
		if err != nil {
			return fmt.Errorf("clear legacy password hashes: %w", err)
		}
		for _, u := range us {
			if err := s.auditAdmin(ctx, tx, u.Email, u.ID, by, "legacy password hash expired"); err != nil {
				return err
			}
		}
		n = len(us)
		return nil
	})
	if err != nil {
		return 0, storeErr(err)
	}
	s.failure.mu.Lock()
	s.failure.spend = nil // read the store again at the next failure
	s.failure.mu.Unlock()
	return n, nil
}
