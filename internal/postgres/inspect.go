package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
)

// MailAttempts returns the recorded delivery attempts of a message, oldest
// first (none for an unknown message). For tests and the admin CLI.
func (s *Store) MailAttempts(ctx context.Context, messageID int64) ([]*account.MailAttempt, error) {
	var out []*account.MailAttempt
	err := s.query(ctx, "list mail attempts", func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT message_id, at, outcome, error, next_at FROM mail_attempts
			WHERE message_id = $1 ORDER BY id`, messageID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a account.MailAttempt
			var outcome string
			var next *time.Time
			if err := rows.Scan(&a.MessageID, &a.At, &outcome, &a.Error, &next); err != nil {
				return err
			}
			a.At, a.Outcome = a.At.UTC(), account.MailOutcome(outcome)
			if next != nil {
				a.NextAt = next.UTC()
			}
			out = append(out, &a)
		}
		return rows.Err()
	})
	return out, err
}

// AuditEvents returns up to limit audit events with an ID above afterID,
// oldest first. For tests and the admin CLI.
func (s *Store) AuditEvents(ctx context.Context, afterID int64, limit int) ([]*account.AuditEvent, error) {
	var out []*account.AuditEvent
	err := s.query(ctx, "list audit events", func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT id, at, action, email_digest, coalesce(user_id, 0), ip, user_agent, detail FROM audit
			WHERE id > $1 ORDER BY id LIMIT $2`, afterID, max(limit, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e account.AuditEvent
			if err := rows.Scan(&e.ID, &e.At, &e.Action, &e.EmailDigest, &e.UserID, &e.IP, &e.UserAgent, &e.Detail); err != nil {
				return err
			}
			e.At = e.At.UTC()
			out = append(out, &e)
		}
		return rows.Err()
	})
	return out, err
}

// query runs fn on a pooled connection outside any explicit transaction.
func (s *Store) query(ctx context.Context, op string, fn func(*pgx.Conn) error) error {
	conn, err := s.acquire(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer conn.Release()
	return wrap(op, fn(conn.Conn()))
}

// OutboxAddress returns the address of an outbox message as stored, and
// the digest that replaced it once the message finished. For tests.
func (s *Store) OutboxAddress(ctx context.Context, messageID int64) (addr string, digest []byte, err error) {
	err = s.query(ctx, "read outbox address", func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT to_addr, to_digest FROM outbox WHERE id = $1`, messageID).Scan(&addr, &digest)
	})
	return addr, digest, err
}
