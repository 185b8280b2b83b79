package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// outboxMeta is the JSON form of account.Meta in outbox.meta.
type outboxMeta struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

func (t *tx) EnqueueMail(ctx context.Context, m *account.OutboxMessage) error {
	err := t.tx.QueryRow(ctx, `
		INSERT INTO outbox (kind, to_addr, user_id, meta, created_at, due_at, attempts)
		VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id`,
		string(m.Kind), m.To, nullID(m.UserID), outboxMeta{IP: m.Meta.IP, UserAgent: m.Meta.UserAgent},
		m.CreatedAt, m.Attempts).Scan(&m.ID)
	return wrap("enqueue mail", err)
}

// RecordMailAttempt settles a pending message. If the message was settled
// already (its lease lapsed and another process finished it), the attempt
// is still recorded and the first outcome stands.
func (t *tx) RecordMailAttempt(ctx context.Context, a *account.MailAttempt) error {
	var nextAt *time.Time
	var err error
	if a.Outcome == account.MailFailed {
		nextAt = &a.NextAt
		_, err = t.tx.Exec(ctx, `
			UPDATE outbox SET due_at = $2, lease_until = NULL, attempts = attempts + 1
			WHERE id = $1 AND status = 'pending'`, a.MessageID, a.NextAt)
	} else {
		_, err = t.tx.Exec(ctx, `
			UPDATE outbox SET status = $2, finished_at = $3, lease_until = NULL, attempts = attempts + 1,
				to_addr = CASE WHEN $4::bytea IS NULL THEN to_addr ELSE '' END, to_digest = coalesce($4, to_digest)
			WHERE id = $1 AND status = 'pending'`, a.MessageID, string(a.Outcome), a.At, a.AddrDigest)
	}
	if err != nil {
		return wrap("record mail attempt", err)
	}
	_, err = t.tx.Exec(ctx, `
		INSERT INTO mail_attempts (message_id, at, outcome, error, next_at) VALUES ($1, $2, $3, $4, $5)`,
		a.MessageID, a.At, string(a.Outcome), a.Error, nextAt)
	if pgCode(err) == codeForeignKeyViolation {
		return account.Errorf(account.ENOTFOUND, "No such outbox message.")
	}
	return wrap("record mail attempt", err)
}

// RenewMailLease sets the lease of the pending messages among ids to until.
func (t *tx) RenewMailLease(ctx context.Context, ids []int64, until time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE outbox SET lease_until = $2 WHERE id = ANY($1) AND status = 'pending'`, ids, until)
	return wrap("renew mail lease", err)
}

// ClaimMail leases up to limit due messages in one statement. FOR UPDATE
// SKIP LOCKED lets processes claiming at once take disjoint rows; a row
// another claimer leased meanwhile is re-checked against its new lease and
// left out.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*account.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	conn, err := s.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `
		WITH due AS (
			SELECT id FROM outbox
			WHERE status = 'pending' AND due_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY due_at, id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE outbox o SET lease_until = $2 FROM due WHERE o.id = due.id
		RETURNING o.id, o.kind, o.to_addr, o.user_id, o.meta, o.created_at, o.attempts, o.due_at`,
		now, now.Add(lease), limit)
	if err != nil {
		return nil, wrap("claim mail", err)
	}
	type claimed struct {
		m   *account.OutboxMessage
		due time.Time
	}
	var got []claimed
	for rows.Next() {
		var m account.OutboxMessage
		var kind string
		var userID *int64
		var meta outboxMeta
		var due time.Time
		if err := rows.Scan(&m.ID, &kind, &m.To, &userID, &meta, &m.CreatedAt, &m.Attempts, &due); err != nil {
			rows.Close()
			return nil, wrap("claim mail", err)
		}
		m.Kind, m.CreatedAt = account.MailKind(kind), m.CreatedAt.UTC()
		m.Meta = account.Meta{IP: meta.IP, UserAgent: meta.UserAgent}
		if userID != nil {
			m.UserID = *userID
		}
		got = append(got, claimed{&m, due})
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("claim mail", err)
	}
	// RETURNING has no order; hand messages out oldest due first.
	slices.SortFunc(got, func(a, b claimed) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.m.ID, b.m.ID)
	})
	out := make([]*account.OutboxMessage, len(got))
	for i, c := range got {
		out[i] = c.m
	}
	return out, nil
}

// MailIDKey stores fresh unless a key is stored, then reads the one
// stored. Under read committed the SELECT sees a key that a concurrent
// transaction committed while the INSERT waited for it.
func (t *tx) MailIDKey(ctx context.Context, fresh []byte) ([]byte, error) {
	if _, err := t.tx.Exec(ctx, `INSERT INTO mail_id_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`,
		fresh); err != nil {
		return nil, wrap("store mail id key", err)
	}
	var v []byte
	err := t.tx.QueryRow(ctx, `SELECT key FROM mail_id_key WHERE id = 1`).Scan(&v)
	return v, wrap("read mail id key", err)
}
