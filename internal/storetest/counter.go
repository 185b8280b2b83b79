package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// counterValue returns the count of key's window at w, read through the
// Counters role alone: in a transaction it rolls back, the first max that
// Reserve accepts is the count plus one.
func counterValue(t *testing.T, s account.Store, key string, w time.Time) int {
	t.Helper()
	ctx := context.Background()
	n := -1
	err := s.Update(ctx, func(tx account.Tx) error {
		for max := 1; max <= 10_000; max++ {
			ok, err := tx.Reserve(ctx, key, w, max)
			if err != nil {
				return err
			}
			if ok {
				n = max - 1
				break
			}
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("read counter %s: %v", key, err)
	}
	return n
}

func reserve(t *testing.T, s account.Store, key string, w time.Time, max int) bool {
	t.Helper()
	var ok bool
	update(t, s, func(tx account.Tx) (err error) {
		ok, err = tx.Reserve(context.Background(), key, w, max)
		return err
	})
	return ok
}

func testCounters(t *testing.T, s account.Store) {
	ctx := context.Background()
	w1, w2 := t0.Truncate(minute), t0.Truncate(minute).Add(minute)
	if n := counterValue(t, s, "ip:1", w1); n != 0 {
		t.Errorf("unknown counter = %d, want 0", n)
	}
	for i := range 3 {
		if !reserve(t, s, "ip:1", w1, 3) {
			t.Errorf("Reserve %d of 3 refused", i+1)
		}
	}
	if reserve(t, s, "ip:1", w1, 3) {
		t.Error("Reserve past max accepted")
	}
	if n := counterValue(t, s, "ip:1", w1); n != 3 {
		t.Errorf("counter after a refused Reserve = %d, want 3 (a refusal counts nothing)", n)
	}
	if !reserve(t, s, "ip:1", w1, 4) {
		t.Error("Reserve under a larger max refused")
	}
	if !reserve(t, s, "ip:2", w1, 1) {
		t.Error("Reserve of another key refused")
	}
	if reserve(t, s, "ip:3", w1, 0) || counterValue(t, s, "ip:3", w1) != 0 {
		t.Error("Reserve with max 0 accepted or counted")
	}
	update(t, s, func(tx account.Tx) error { return tx.Release(ctx, "ip:1", w1) })
	if n := counterValue(t, s, "ip:1", w1); n != 3 {
		t.Errorf("counter after Release = %d, want 3", n)
	}
	update(t, s, func(tx account.Tx) error {
		for range 3 {
			if err := tx.Release(ctx, "ip:2", w1); err != nil {
				return err
			}
		}
		return tx.Release(ctx, "never-reserved", w1)
	})
	if n := counterValue(t, s, "ip:2", w1); n != 0 {
		t.Errorf("counter released past zero = %d, want 0", n)
	}
	reserve(t, s, "ip:2", w1, 1)

	// A store may drop a key's older windows when it reserves a newer one.
	if n := counterValue(t, s, "ip:1", w2); n != 0 {
		t.Errorf("next window before any Reserve = %d, want 0", n)
	}
	if !reserve(t, s, "ip:1", w2, 1) {
		t.Error("first Reserve of a new window refused")
	}

	update(t, s, func(tx account.Tx) error { return tx.ClearCounter(ctx, "ip:1") })
	if n := counterValue(t, s, "ip:1", w1) + counterValue(t, s, "ip:1", w2); n != 0 {
		t.Errorf("counter after ClearCounter = %d, want 0", n)
	}
	if n := counterValue(t, s, "ip:2", w1); n != 1 {
		t.Errorf("ClearCounter touched another key: %d, want 1", n)
	}
	update(t, s, func(tx account.Tx) error { return tx.ClearCounter(ctx, "never-reserved") })
}

// testCounterConcurrent: of many Reserves at once against one max, exactly
// max are accepted, each in a transaction of its own.
func testCounterConcurrent(t *testing.T, s account.Store) {
	const n, max = 40, 7
	ctx := context.Background()
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		accepted = make([]bool, n)
		errs     = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Update(ctx, func(tx account.Tx) (err error) {
				accepted[i], err = tx.Reserve(ctx, "burst", t0, max)
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	got := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Reserve %d: %v", i, errs[i])
		}
		if accepted[i] {
			got++
		}
	}
	if got != max {
		t.Errorf("%d of %d concurrent Reserves accepted, want %d", got, n, max)
	}
	if v := counterValue(t, s, "burst", t0); v != max {
		t.Errorf("counter = %d, want %d", v, max)
	}
}

func testCounterRollback(t *testing.T, s account.Store) {
	ctx := context.Background()
	for range 3 {
		err := s.Update(ctx, func(tx account.Tx) error {
			if _, err := tx.Reserve(ctx, "k", t0, 10); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Update = %v, want fn's error", err)
		}
	}
	if n := counterValue(t, s, "k", t0); n != 0 {
		t.Errorf("counter after rolled-back Reserves = %d, want 0", n)
	}
}
