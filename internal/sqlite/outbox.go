package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// meta is account.Meta as stored in outbox.meta.
type meta struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// EnqueueMail queues m, due at m.CreatedAt, and sets m.ID.
func (t *tx) EnqueueMail(_ context.Context, m *account.OutboxMessage) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	mj, err := json.Marshal(meta{IP: m.Meta.IP, UserAgent: m.Meta.UserAgent})
	if err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	const q = `INSERT INTO outbox (kind, to_addr, user_id, meta, created_at, due_at, attempts)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	created := unixNano(m.CreatedAt)
	res, err := t.exec(q, string(m.Kind), m.To, nullID(m.UserID), string(mj), created, created, m.Attempts)
	if err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	if m.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	return nil
}

// RecordMailAttempt stores the attempt and moves its message on: due again
// at a.NextAt for MailFailed, finished with status a.Outcome otherwise; in
// both cases its lease ends and Attempts grows by one. ENOTFOUND if no such
// message, EINVALID for an unknown outcome.
func (t *tx) RecordMailAttempt(_ context.Context, a *account.MailAttempt) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	var (
		n   int64
		err error
	)
	switch a.Outcome {
	case account.MailFailed:
		const q = `UPDATE outbox SET attempts = attempts + 1, due_at = ?, lease_until = NULL WHERE id = ?`
		n, err = affected(t.exec(q, unixNano(a.NextAt), a.MessageID))
	case account.MailSent, account.MailDropped, account.MailGaveUp:
		const q = `UPDATE outbox SET attempts = attempts + 1, status = ?1, finished_at = ?2, lease_until = NULL,
			to_addr = iif(?4 IS NULL, to_addr, ''), to_digest = coalesce(?4, to_digest)
			WHERE id = ?3`
		n, err = affected(t.exec(q, string(a.Outcome), unixNano(a.At), a.MessageID, nullBytes(a.AddrDigest)))
	default:
		return account.Errorf(account.EINVALID, "unknown mail outcome %q", a.Outcome)
	}
	if err != nil {
		return fmt.Errorf("record mail attempt: %w", err)
	}
	if n == 0 {
		return account.Errorf(account.ENOTFOUND, "outbox message not found")
	}
	var next any
	if a.Outcome == account.MailFailed {
		next = unixNano(a.NextAt)
	}
	const q = `INSERT INTO mail_attempts (message_id, at, outcome, error, next_at) VALUES (?, ?, ?, ?, ?)`
	if _, err := t.exec(q, a.MessageID, unixNano(a.At), string(a.Outcome), a.Error, next); err != nil {
		return fmt.Errorf("record mail attempt: %w", err)
	}
	return nil
}

// RenewMailLease sets the lease of the pending messages among ids to until.
func (t *tx) RenewMailLease(_ context.Context, ids []int64, until time.Time) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, unixNano(until))
	for _, id := range ids {
		args = append(args, id)
	}
	q := `UPDATE outbox SET lease_until = ? WHERE status = 'pending' AND id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	if _, err := t.exec(q, args...); err != nil {
		return fmt.Errorf("renew mail lease: %w", err)
	}
	return nil
}

// ClaimMail leases up to limit pending messages due at now, whose lease (if
// any) lapsed, to the caller until now+lease, and returns them by due time,
// then id. It runs on the writer, so two claimers never get one message.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*account.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	var msgs []*account.OutboxMessage
	err := s.Update(ctx, func(atx account.Tx) error {
		var err error
		msgs, err = atx.(*tx).claimMail(now, lease, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	return msgs, nil
}

func (t *tx) claimMail(now time.Time, lease time.Duration, limit int) ([]*account.OutboxMessage, error) {
	const q = `UPDATE outbox SET lease_until = ? WHERE id IN (
		SELECT id FROM outbox
		WHERE status = 'pending' AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
		ORDER BY due_at, id LIMIT ?)
		RETURNING id, kind, to_addr, user_id, meta, created_at, due_at, attempts`
	n := now.UnixNano()
	rows, err := t.query(q, now.Add(lease).UnixNano(), n, n, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type claimed struct {
		m   *account.OutboxMessage
		due int64
	}
	var cs []claimed
	for rows.Next() {
		var (
			m       account.OutboxMessage
			userID  sql.NullInt64
			mj      []byte
			created int64
			due     int64
		)
		if err := rows.Scan(&m.ID, (*string)(&m.Kind), &m.To, &userID, &mj, &created, &due, &m.Attempts); err != nil {
			return nil, err
		}
		var md meta
		if err := json.Unmarshal(mj, &md); err != nil {
			return nil, fmt.Errorf("message %d: meta: %w", m.ID, err)
		}
		m.UserID, m.Meta, m.CreatedAt = userID.Int64, account.Meta{IP: md.IP, UserAgent: md.UserAgent}, fromNano(created)
		cs = append(cs, claimed{&m, due})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// RETURNING does not promise an order.
	slices.SortFunc(cs, func(a, b claimed) int {
		if a.due != b.due {
			return cmp.Compare(a.due, b.due)
		}
		return cmp.Compare(a.m.ID, b.m.ID)
	})
	msgs := make([]*account.OutboxMessage, len(cs))
	for i, c := range cs {
		msgs[i] = c.m
	}
	return msgs, nil
}

// nullBytes is b, or NULL when b is nil.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// OutboxAddress returns the address of an outbox message as stored, and
// the digest that replaced it once the message finished. For tests.
func (s *Store) OutboxAddress(ctx context.Context, messageID int64) (addr string, digest []byte, err error) {
	err = s.View(ctx, func(atx account.Tx) error {
		return atx.(*tx).queryRow(`SELECT to_addr, to_digest FROM outbox WHERE id = ?`, messageID).Scan(&addr, &digest)
	})
	if err != nil {
		return "", nil, fmt.Errorf("read outbox address: %w", err)
	}
	return addr, digest, nil
}

// MailAttempts returns the recorded delivery attempts of a message, oldest
// first (none for an unknown message).
func (s *Store) MailAttempts(ctx context.Context, messageID int64) ([]*account.MailAttempt, error) {
	var as []*account.MailAttempt
	err := s.View(ctx, func(atx account.Tx) error {
		const q = `SELECT at, outcome, error, next_at FROM mail_attempts WHERE message_id = ? ORDER BY id`
		rows, err := atx.(*tx).query(q, messageID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				at   int64
				next sql.NullInt64
			)
			a := &account.MailAttempt{MessageID: messageID}
			if err := rows.Scan(&at, (*string)(&a.Outcome), &a.Error, &next); err != nil {
				return err
			}
			a.At = fromNano(at)
			if next.Valid {
				a.NextAt = fromNano(next.Int64)
			}
			as = append(as, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list mail attempts: %w", err)
	}
	return as, nil
}

// MailIDKey returns the key of mail Message-IDs, storing fresh first if
// there is none.
func (t *tx) MailIDKey(_ context.Context, fresh []byte) ([]byte, error) {
	if err := t.checkWrite(); err != nil {
		return nil, err
	}
	if _, err := t.exec(`INSERT INTO mail_id_key (id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, fresh); err != nil {
		return nil, fmt.Errorf("store mail id key: %w", err)
	}
	var v []byte
	if err := t.queryRow(`SELECT key FROM mail_id_key WHERE id = 1`).Scan(&v); err != nil {
		return nil, fmt.Errorf("read mail id key: %w", err)
	}
	return v, nil
}
