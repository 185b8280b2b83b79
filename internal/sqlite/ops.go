package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// AuditByEmail returns up to limit audit events about the address whose
// digest is digest, oldest first.
func (t *tx) AuditByEmail(_ context.Context, digest []byte, limit int) ([]*account.AuditEvent, error) {
	const q = `SELECT id, at, action, email_digest, user_id, ip, user_agent, detail
		FROM audit WHERE email_digest = ? ORDER BY at, id LIMIT ?`
	rows, err := t.query(q, digest, limit)
	if err != nil {
		return nil, fmt.Errorf("audit by e-mail: %w", err)
	}
	defer rows.Close()
	var es []*account.AuditEvent
	for rows.Next() {
		var (
			e      account.AuditEvent
			at     int64
			userID sql.NullInt64
		)
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.EmailDigest, &userID, &e.IP, &e.UserAgent, &e.Detail); err != nil {
			return nil, fmt.Errorf("audit by e-mail: %w", err)
		}
		e.At, e.UserID = fromNano(at), userID.Int64
		es = append(es, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit by e-mail: %w", err)
	}
	return es, nil
}

// purgeSQL deletes up to ?2 rows that ended before ?1, by kind. Each picks
// its victims by key in a subquery, so one call is bounded.
var purgeSQL = map[account.PurgeKind]string{
	account.PurgeResetTokens: `DELETE FROM reset_tokens WHERE id IN (SELECT id FROM reset_tokens
		WHERE ` + sqlResetTokenEnded + ` < ?1 LIMIT ?2)`,
	account.PurgeInvitations: `DELETE FROM invitations WHERE id IN (SELECT id FROM invitations
		WHERE ` + sqlResetTokenEnded + ` < ?1 LIMIT ?2)`, // the expression of invitations_ended too
	account.PurgeAuthTokens: `DELETE FROM auth_tokens WHERE rowid IN (SELECT rowid FROM auth_tokens
		WHERE revoked_at < ?1 LIMIT ?2)`,
	account.PurgeExpiredAuthTokens: `DELETE FROM auth_tokens WHERE rowid IN (SELECT rowid FROM auth_tokens
		WHERE revoked_at IS NULL AND created_at < ?1 LIMIT ?2)`,
	account.PurgeAudit: `DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 LIMIT ?2)`,
	account.PurgeCounters: `DELETE FROM counters WHERE (key, window_start) IN (SELECT key, window_start
		FROM counters WHERE window_start < ?1 LIMIT ?2)`, // WITHOUT ROWID
}

// sqlResetTokenEnded is when a reset token stopped mattering: the earliest
// of its used, revoked and expiry times. It is the expression of the index
// reset_tokens_ended (migration 4), which a query uses only if it repeats
// it exactly.
const sqlResetTokenEnded = `min(expires_at, ifnull(used_at, expires_at), ifnull(revoked_at, expires_at))`

// sqlCountExpiredResetTokens counts up to ?2 tokens that expired unused
// before ?1 by reading reset_tokens_unspent alone, which holds every
// column it tests (TestQueryPlans); reset_tokens_ended would need a table
// row for every entry.
const sqlCountExpiredResetTokens = `SELECT count(*) FROM (SELECT 1 FROM reset_tokens
	WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at <= ?1 LIMIT ?2)`

// Purge deletes up to limit rows of kind that ended before before.
func (t *tx) Purge(_ context.Context, kind account.PurgeKind, before time.Time, limit int) (int, error) {
	if err := t.checkWrite(); err != nil {
		return 0, err
	}
	b := before.UnixNano()
	if kind == account.PurgeOutbox {
		// mail_attempts rows reference their message: delete them first.
		const ids = `SELECT id FROM outbox WHERE status <> 'pending' AND finished_at < ?1 LIMIT ?2`
		if _, err := t.exec(`DELETE FROM mail_attempts WHERE message_id IN (`+ids+`)`, b, limit); err != nil {
			return 0, fmt.Errorf("purge %s: %w", kind, err)
		}
		n, err := affected(t.exec(`DELETE FROM outbox WHERE id IN (`+ids+`)`, b, limit))
		if err != nil {
			return 0, fmt.Errorf("purge %s: %w", kind, err)
		}
		return int(n), nil
	}
	q, ok := purgeSQL[kind]
	if !ok {
		return 0, account.Errorf(account.EINVALID, "unknown purge kind %q", kind)
	}
	n, err := affected(t.exec(q, b, limit))
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", kind, err)
	}
	return int(n), nil
}

// Stats returns the pending outbox messages, the oldest one's creation time
// and the reset tokens that expired unused at now, counted up to
// account.StatsCountLimit.
func (t *tx) Stats(_ context.Context, now time.Time) (account.Stats, error) {
	return t.stats(now, account.StatsCountLimit)
}

// stats is Stats counting up to limit expired tokens.
func (t *tx) stats(now time.Time, limit int) (account.Stats, error) {
	var (
		st     account.Stats
		oldest sql.NullInt64
	)
	const mail = `SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'`
	if err := t.queryRow(mail).Scan(&st.MailPending, &oldest); err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	if oldest.Valid {
		st.OldestPending = fromNano(oldest.Int64)
	}
	if err := t.queryRow(sqlCountExpiredResetTokens, now.UnixNano(), limit).Scan(&st.ResetTokensExpired); err != nil {
		return st, fmt.Errorf("reset token stats: %w", err)
	}
	return st, nil
}
