package account

import (
	"context"
	"fmt"
	"time"
)

// PurgeOptions say what Purge keeps and how it shares the database.
type PurgeOptions struct {
	// Retention is how long spent and expired reset tokens, revoked and
	// expired auth tokens, finished outbox messages and rate-limit windows
	// are kept after they ended; at least an hour, so no live limit window
	// goes.
	Retention time.Duration
	// AuditRetention is how long audit events are kept; at least an hour.
	AuditRetention time.Duration
	// Batch is how many rows one transaction deletes at most (default
	// DefaultPurgeBatch). Purge starts smaller and adapts the size to
	// BatchTime.
	Batch int
	// BatchTime is how long one transaction's deletes should take at most
	// (default DefaultPurgeBatchTime): the time the purge holds the
	// database's single writer, during which traffic's writes wait.
	BatchTime time.Duration
	// Pause is how long Purge waits between two transactions (default
	// DefaultPurgePause), so that waiting writes get the database first.
	Pause time.Duration
}

// Purge defaults: traffic first. A batch holds the writer only briefly
// (each row deleted is a few random index pages); the pause lets another
// process's waiting writer in (its busy handler retries after 1, 2, 5… ms)
// and bounds the WAL and checkpoint I/O the purge adds, which is what
// delays the traffic's fsyncs. Longer batches and shorter pauses purge
// faster at the cost of the traffic's p99 (docs/perf.md).
const (
	DefaultPurgeBatch     = 2000
	DefaultPurgeBatchTime = 2 * time.Millisecond
	DefaultPurgePause     = 20 * time.Millisecond
	firstPurgeBatch       = 100
	minPurgeBatch         = 10
)

// Purge deletes what ended before its retention, kind by kind, in short
// transactions (see PurgeOptions), and returns how many rows of each kind it
// deleted. EINVALID for a retention under an hour. On a store failure or
// once ctx is done it returns the counts so far with the error.
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
	if o.BatchTime <= 0 {
		o.BatchTime = DefaultPurgeBatchTime
	}
	if o.Pause <= 0 {
		o.Pause = DefaultPurgePause
	}
	now := s.now()
	counts := make(map[PurgeKind]int, len(PurgeKinds))
	pause := time.NewTimer(0)
	defer pause.Stop()
	<-pause.C
	for _, k := range PurgeKinds {
		before := now.Add(-o.Retention)
		switch k {
		case PurgeAudit:
			before = now.Add(-o.AuditRetention)
		case PurgeExpiredAuthTokens:
			before = before.Add(-s.cfg.AuthTTL) // issued then: expired a retention ago
		}
		batch := min(firstPurgeBatch, o.Batch)
		for {
			var (
				n    int
				took time.Duration
			)
			err := s.store.Update(ctx, func(tx Tx) (err error) {
				t := time.Now()
				n, err = tx.Purge(ctx, k, before, batch)
				took = time.Since(t)
				return err
			})
			if err != nil {
				return counts, storeErr(fmt.Errorf("purge %s: %w", k, err))
			}
			counts[k] += n
			if n < batch {
				break
			}
			batch = nextPurgeBatch(batch, took, o)
			pause.Reset(o.Pause)
			select {
			case <-pause.C:
			case <-ctx.Done():
				return counts, ctx.Err()
			}
		}
	}
	return counts, nil
}

// nextPurgeBatch sizes the next batch from the time the last one took:
// halved past o.BatchTime, doubled under half of it, within
// [minPurgeBatch, o.Batch].
func nextPurgeBatch(batch int, took time.Duration, o PurgeOptions) int {
	switch {
	case took > o.BatchTime:
		batch /= 2
	case took < o.BatchTime/2:
		batch *= 2
	}
	return min(max(batch, minPurgeBatch), o.Batch)
}

// RunPurges runs Purge with o every interval until ctx is done, the first
// time one interval after the start, and logs what each run deleted. In the
// server it goes through the server's own store, so its short transactions
// are committed between the requests' (group commit) instead of waiting
// on another process's lock.
func (s *Service) RunPurges(ctx context.Context, interval time.Duration, o PurgeOptions) {
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		counts, err := s.Purge(ctx, o)
		if err != nil && ctx.Err() == nil {
			s.log.Error("purge", "err", err)
		}
		args := []any{"took", time.Since(start).Round(time.Millisecond)}
		for _, k := range PurgeKinds {
			args = append(args, string(k), counts[k])
		}
		s.log.Info("purged", args...)
		timer.Reset(interval)
	}
}
