package account

import (
	"context"
	"fmt"
	"time"
)

// PurgeOptions say what Purge keeps.
type PurgeOptions struct {
	// Retention is how long spent and expired reset tokens, revoked auth
	// tokens, finished outbox messages and rate-limit windows are kept
	// after they ended; at least an hour, so no live limit window goes.
	Retention time.Duration
	// AuditRetention is how long audit events are kept; at least an hour.
	AuditRetention time.Duration
	// Batch is how many rows one transaction deletes at most (default
	// 10,000), so that a purge never holds the database for long.
	Batch int
}

// DefaultPurgeBatch is the rows one purge transaction deletes at most.
const DefaultPurgeBatch = 10000

// Purge deletes what ended before its retention, kind by kind, in
// transactions of at most o.Batch rows, and returns how many rows of each
// kind it deleted. EINVALID for a retention under an hour. On a store
// failure it returns the counts so far with the error.
func (s *Service) Purge(ctx context.Context, o PurgeOptions) (map[PurgeKind]int, error) {
	if o.Retention < time.Hour {
		return nil, FieldError(EINVALID, "retention", "The retention must be at least an hour.")
	}
	if o.AuditRetention < time.Hour {
		return nil, FieldError(EINVALID, "audit-retention", "The audit retention must be at least an hour.")
	}
	if o.Batch <= 0 {
		o.Batch = DefaultPurgeBatch
	}
	now := s.now()
	counts := make(map[PurgeKind]int, len(PurgeKinds))
	for _, k := range PurgeKinds {
		before := now.Add(-o.Retention)
		if k == PurgeAudit {
			before = now.Add(-o.AuditRetention)
		}
		for {
			var n int
			err := s.store.Update(ctx, func(tx Tx) (err error) {
				n, err = tx.Purge(ctx, k, before, o.Batch)
				return err
			})
			if err != nil {
				return counts, storeErr(fmt.Errorf("purge %s: %w", k, err))
			}
			counts[k] += n
			if n < o.Batch {
				break
			}
			if err := ctx.Err(); err != nil {
				return counts, err
			}
		}
	}
	return counts, nil
}
