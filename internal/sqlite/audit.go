package sqlite

import (
	"context"
	"fmt"

	"github.com/cruxd/cruxd/internal/account"
)

// AppendAudit appends e to the audit trail and sets e.ID.
func (t *tx) AppendAudit(_ context.Context, e *account.AuditEvent) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `INSERT INTO audit (at, action, email_digest, user_id, ip, user_agent, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	var digest any
	if len(e.EmailDigest) > 0 {
		digest = e.EmailDigest
	}
	res, err := t.exec(q, unixNano(e.At), e.Action, digest, nullID(e.UserID), e.IP, e.UserAgent, e.Detail)
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	if e.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// AuditEvents returns up to limit audit events with an ID above afterID,
// oldest first.
func (s *Store) AuditEvents(ctx context.Context, afterID int64, limit int) ([]*account.AuditEvent, error) {
	var es []*account.AuditEvent
	err := s.View(ctx, func(atx account.Tx) error {
		const q = `SELECT id, at, action, email_digest, user_id, ip, user_agent, detail
			FROM audit WHERE id > ? ORDER BY id LIMIT ?`
		rows, err := atx.(*tx).query(q, afterID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e      account.AuditEvent
				at     int64
				userID *int64
			)
			if err := rows.Scan(&e.ID, &at, &e.Action, &e.EmailDigest, &userID, &e.IP, &e.UserAgent, &e.Detail); err != nil {
				return err
			}
			e.At = fromNano(at)
			if userID != nil {
				e.UserID = *userID
			}
			es = append(es, &e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return es, nil
}
