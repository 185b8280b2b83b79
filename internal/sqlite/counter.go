package sqlite

import (
	"context"
	"fmt"
	"time"
)

const (
	// counterRetention is how long a counter window is kept after the
	// newest window hit; limit windows are at most an hour long.
	counterRetention = 24 * time.Hour
	// purgeEvery is how many reservations pass between purges of old windows.
	purgeEvery = 1024
)

// Reserve adds one to the counter key for the window starting at
// windowStart if it is below max, in one conditional upsert, and reports
// whether it did. Every purgeEvery reservations it also deletes windows that
// started more than counterRetention before windowStart.
func (t *tx) Reserve(_ context.Context, key string, windowStart time.Time, max int) (bool, error) {
	if err := t.checkWrite(); err != nil {
		return false, err
	}
	if max <= 0 {
		return false, nil
	}
	const q = `INSERT INTO counters (key, window_start, count) VALUES (?1, ?2, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1 WHERE count < ?3
		RETURNING count`
	var n int
	err := t.queryRow(q, key, windowStart.UnixNano(), max).Scan(&n)
	if isNoRows(err) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("reserve counter: %w", err)
	}
	if t.store.hits++; t.store.hits >= purgeEvery {
		t.store.hits = 0
		const purge = `DELETE FROM counters WHERE window_start < ?`
		if _, err := t.exec(purge, windowStart.Add(-counterRetention).UnixNano()); err != nil {
			return false, fmt.Errorf("purge counters: %w", err)
		}
	}
	return true, nil
}

// Release takes one back from the counter key's window, never below zero.
func (t *tx) Release(_ context.Context, key string, windowStart time.Time) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `UPDATE counters SET count = count - 1 WHERE key = ? AND window_start = ? AND count > 0`
	if _, err := t.exec(q, key, windowStart.UnixNano()); err != nil {
		return fmt.Errorf("release counter: %w", err)
	}
	return nil
}

// ClearCounter deletes every window of the counter key.
func (t *tx) ClearCounter(_ context.Context, key string) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM counters WHERE key = ?`, key); err != nil {
		return fmt.Errorf("clear counter: %w", err)
	}
	return nil
}
