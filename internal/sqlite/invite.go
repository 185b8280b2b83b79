package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// The statements of invitations whose plans TestQueryPlans checks: each
// reads one row through the unique digest index.
const (
	sqlInvitationColumns  = `id, digest, user_id, created_at, expires_at, used_at, revoked_at, renewed_at`
	sqlInvitationByDigest = `SELECT ` + sqlInvitationColumns + ` FROM invitations WHERE digest = ?1`
	sqlConsumeInvitation  = `UPDATE invitations SET used_at = ?2
		WHERE digest = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
		RETURNING ` + sqlInvitationColumns
	sqlRenewInvitation = `UPDATE invitations SET renewed_at = ?2
		WHERE digest = ?1 AND used_at IS NULL AND revoked_at IS NULL AND renewed_at IS NULL AND expires_at <= ?2
		RETURNING ` + sqlInvitationColumns
	// sqlRevokeInvitations revokes at ?2 the live invitations of user ?1
	// but the newest ?3, searching invitations_unspent.
	sqlRevokeInvitations = `UPDATE invitations SET revoked_at = ?2 WHERE id IN (
		SELECT id FROM invitations
		WHERE user_id = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
		ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?3)`
)

// CreateInvitation inserts i and sets i.ID; ECONFLICT if its digest exists,
// ENOTFOUND if i.UserID names no user.
func (t *tx) CreateInvitation(_ context.Context, i *account.Invitation) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `INSERT INTO invitations (digest, user_id, created_at, expires_at, used_at, revoked_at, renewed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	res, err := t.exec(q, i.Digest, i.UserID, unixNano(i.CreatedAt), unixNano(i.ExpiresAt),
		nullNano(i.UsedAt), nullNano(i.RevokedAt), nullNano(i.RenewedAt))
	if err != nil {
		return classify(err, "insert invitation", "invitation exists", "user not found")
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert invitation: %w", err)
	}
	i.ID = id
	return nil
}

// InvitationByDigest returns the invitation with that digest, whatever its
// state; ENOTFOUND if none.
func (t *tx) InvitationByDigest(_ context.Context, digest []byte) (*account.Invitation, error) {
	i, err := scanInvitation(t.queryRow(sqlInvitationByDigest, digest).Scan)
	if err != nil {
		return nil, notFound(err, "find invitation", account.MsgInvalidToken)
	}
	return i, nil
}

// ConsumeInvitation marks the live invitation with that digest used at now
// in one conditional UPDATE whose returned row decides; ENOTFOUND if it was
// not live. Of concurrent calls exactly one wins.
func (t *tx) ConsumeInvitation(_ context.Context, digest []byte, now time.Time) (*account.Invitation, error) {
	if err := t.checkWrite(); err != nil {
		return nil, err
	}
	i, err := scanInvitation(t.queryRow(sqlConsumeInvitation, digest, now.UnixNano()).Scan)
	if err != nil {
		return nil, notFound(err, "consume invitation", account.MsgInvalidToken)
	}
	return i, nil
}

// RenewInvitation marks the expired, unspent, never renewed invitation
// with that digest renewed at now; ENOTFOUND if there is none such.
func (t *tx) RenewInvitation(_ context.Context, digest []byte, now time.Time) (*account.Invitation, error) {
	if err := t.checkWrite(); err != nil {
		return nil, err
	}
	i, err := scanInvitation(t.queryRow(sqlRenewInvitation, digest, now.UnixNano()).Scan)
	if err != nil {
		return nil, notFound(err, "renew invitation", account.MsgInvalidToken)
	}
	return i, nil
}

// RevokeInvitations revokes the user's live invitations at now except the
// newest keep ones (by created_at, then id) and returns how many.
func (t *tx) RevokeInvitations(_ context.Context, userID int64, keep int, now time.Time) (int, error) {
	if err := t.checkWrite(); err != nil {
		return 0, err
	}
	n, err := affected(t.exec(sqlRevokeInvitations, userID, now.UnixNano(), max(keep, 0)))
	if err != nil {
		return 0, fmt.Errorf("revoke invitations: %w", err)
	}
	return int(n), nil
}

func scanInvitation(scan func(...any) error) (*account.Invitation, error) {
	var (
		i                      account.Invitation
		created, expires       int64
		used, revoked, renewed sql.NullInt64
	)
	if err := scan(&i.ID, &i.Digest, &i.UserID, &created, &expires, &used, &revoked, &renewed); err != nil {
		return nil, err
	}
	i.CreatedAt, i.ExpiresAt = fromNano(created), fromNano(expires)
	i.UsedAt, i.RevokedAt, i.RenewedAt = nanoPtr(used), nanoPtr(revoked), nanoPtr(renewed)
	return &i, nil
}

// nanoPtr reads a nullable time column.
func nanoPtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNano(n.Int64)
	return &t
}
