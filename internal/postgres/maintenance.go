package postgres

import (
	"context"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// AuditByEmail returns up to limit events about the address with that
// digest, oldest first.
func (t *tx) AuditByEmail(ctx context.Context, digest []byte, limit int) ([]*account.AuditEvent, error) {
	rows, err := t.tx.Query(ctx, `
		SELECT id, at, action, email_digest, coalesce(user_id, 0), ip, user_agent, detail FROM audit
		WHERE email_digest = $1 ORDER BY at, id LIMIT $2`, digest, max(limit, 0))
	if err != nil {
		return nil, wrap("list audit events", err)
	}
	defer rows.Close()
	var out []*account.AuditEvent
	for rows.Next() {
		var e account.AuditEvent
		if err := rows.Scan(&e.ID, &e.At, &e.Action, &e.EmailDigest, &e.UserID, &e.IP, &e.UserAgent, &e.Detail); err != nil {
			return nil, wrap("list audit events", err)
		}
		e.At = e.At.UTC()
		out = append(out, &e)
	}
	return out, wrap("list audit events", rows.Err())
}

// purgeSQL deletes up to $2 rows that ended before $1. Each picks its rows
// in a subquery, as DELETE has no LIMIT; the outbox's attempts go with their
// message (ON DELETE CASCADE).
var purgeSQL = map[account.PurgeKind]string{
	account.PurgeResetTokens: `DELETE FROM reset_tokens WHERE id IN (
		SELECT id FROM reset_tokens WHERE least(used_at, revoked_at, expires_at) < $1 LIMIT $2)`,
	account.PurgeInvitations: `DELETE FROM invitations WHERE id IN (
		SELECT id FROM invitations WHERE least(used_at, revoked_at, expires_at) < $1 LIMIT $2)`,
	account.PurgeAuthTokens: `DELETE FROM auth_tokens WHERE digest IN (
		SELECT digest FROM auth_tokens WHERE revoked_at < $1 LIMIT $2)`,
	account.PurgeExpiredAuthTokens: `DELETE FROM auth_tokens WHERE digest IN (
		SELECT digest FROM auth_tokens WHERE revoked_at IS NULL AND created_at < $1 LIMIT $2)`,
	account.PurgeOutbox: `DELETE FROM outbox WHERE id IN (
		SELECT id FROM outbox WHERE status <> 'pending' AND finished_at < $1 LIMIT $2)`,
	account.PurgeAudit: `DELETE FROM audit WHERE id IN (
		SELECT id FROM audit WHERE at < $1 LIMIT $2)`,
	account.PurgeCounters: `DELETE FROM counters WHERE ctid IN (
		SELECT ctid FROM counters WHERE window_start < $1 LIMIT $2)`,
}

// Purge deletes up to limit rows of kind that ended before before;
// EINVALID for an unknown kind.
func (t *tx) Purge(ctx context.Context, kind account.PurgeKind, before time.Time, limit int) (int, error) {
	q, ok := purgeSQL[kind]
	if !ok {
		return 0, account.Errorf(account.EINVALID, "Unknown purge kind %q.", kind)
	}
	if limit <= 0 {
		return 0, nil
	}
	tag, err := t.tx.Exec(ctx, q, before, limit)
	if err != nil {
		return 0, wrap("purge "+string(kind), err)
	}
	return int(tag.RowsAffected()), nil
}

// Stats reads the pending outbox and the reset tokens that expired unused
// at now, counted up to account.StatsCountLimit.
func (t *tx) Stats(ctx context.Context, now time.Time) (account.Stats, error) {
	return t.stats(ctx, now, account.StatsCountLimit)
}

// stats is Stats counting up to limit expired tokens.
func (t *tx) stats(ctx context.Context, now time.Time, limit int) (account.Stats, error) {
	var st account.Stats
	var oldest *time.Time
	err := t.tx.QueryRow(ctx, `
		SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'`).Scan(&st.MailPending, &oldest)
	if err != nil {
		return st, wrap("read outbox stats", err)
	}
	if oldest != nil {
		st.OldestPending = oldest.UTC()
	}
	err = t.tx.QueryRow(ctx, `
		SELECT count(*) FROM (SELECT FROM reset_tokens
			WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at <= $1 LIMIT $2) AS expired`,
		now, limit).Scan(&st.ResetTokensExpired)
	return st, wrap("read reset token stats", err)
}
