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
	// purgeEvery is how many Hits pass between purges of old windows.
	purgeEvery = 1024
)

// Hit adds one to the counter key for the window starting at windowStart
// and returns the new count. Every purgeEvery hits it also deletes windows
// that started more than counterRetention before windowStart.
func (t *tx) Hit(_ context.Context, key string, windowStart time.Time) (int, error) {
	if err := t.checkWrite(); err != nil {
		return 0, err
	}
	const q = `INSERT INTO counters (key, window_start, count) VALUES (?, ?, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1
		RETURNING count`
	var n int
	if err := t.queryRow(q, key, windowStart.UnixNano()).Scan(&n); err != nil {
		return 0, fmt.Errorf("hit counter: %w", err)
	}
	if t.store.hits++; t.store.hits >= purgeEvery {
		t.store.hits = 0
		const purge = `DELETE FROM counters WHERE window_start < ?`
		if _, err := t.exec(purge, windowStart.Add(-counterRetention).UnixNano()); err != nil {
			return 0, fmt.Errorf("purge counters: %w", err)
		}
	}
	return n, nil
}

// Count returns the counter's value for the window starting at windowStart,
// 0 if it was never hit.
func (t *tx) Count(_ context.Context, key string, windowStart time.Time) (int, error) {
	const q = `SELECT count FROM counters WHERE key = ? AND window_start = ?`
	var n int
	err := t.queryRow(q, key, windowStart.UnixNano()).Scan(&n)
	if isNoRows(err) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("read counter: %w", err)
	}
	return n, nil
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
