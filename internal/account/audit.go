package account

import (
	"context"
	"fmt"
)

// maxAuditTrail bounds what AuditTrail returns.
const maxAuditTrail = 10000

// AuditTrail returns the audit events about an e-mail address (matched by
// its digest, so it works for addresses no account uses), oldest first, at
// most limit of them (0: 10,000). EINVALID for a malformed address.
func (s *Service) AuditTrail(ctx context.Context, email string, limit int) ([]*AuditEvent, error) {
	email, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > maxAuditTrail {
		limit = maxAuditTrail
	}
	var es []*AuditEvent
	err = s.store.View(ctx, func(tx Tx) (err error) {
		es, err = tx.AuditByEmail(ctx, Digest(email), limit)
		return err
	})
	if err != nil {
		return nil, storeErr(fmt.Errorf("read audit trail: %w", err))
	}
	return es, nil
}

// auditAdmin records an administrative action in tx. email is "" when no
// address is concerned; detail must never hold a secret.
func (s *Service) auditAdmin(ctx context.Context, tx Tx, email string, userID int64, by Meta, detail string) error {
	e := &AuditEvent{At: s.now(), Action: AuditAdmin, UserID: userID, IP: by.IP, UserAgent: by.UserAgent, Detail: detail}
	if email != "" {
		e.EmailDigest = Digest(email)
	}
	if err := tx.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func firstMeta(ms []Meta) Meta {
	if len(ms) == 0 {
		return Meta{}
	}
	return ms[0]
}

// Stats returns the store's monitoring figures at the service's now.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.store.View(ctx, func(tx Tx) (err error) {
		st, err = tx.Stats(ctx, s.now())
		return err
	})
	return st, storeErr(err)
}
