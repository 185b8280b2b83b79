package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cruxd/cruxd/internal/account"
)

const invitationColumns = `id, digest, user_id, created_at, expires_at, used_at, revoked_at, renewed_at`

// CreateInvitation inserts i and sets i.ID; ECONFLICT if its digest exists,
// ENOTFOUND if i.UserID names no user.
func (t *tx) CreateInvitation(ctx context.Context, i *account.Invitation) error {
	err := t.tx.QueryRow(ctx, `
		INSERT INTO invitations (digest, user_id, created_at, expires_at, used_at, revoked_at, renewed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING
		RETURNING id`,
		i.Digest, i.UserID, i.CreatedAt, i.ExpiresAt, i.UsedAt, i.RevokedAt, i.RenewedAt).Scan(&i.ID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return account.Errorf(account.ECONFLICT, "The invitation already exists.")
	case pgCode(err) == codeForeignKeyViolation:
		return account.Errorf(account.ENOTFOUND, "No such user.")
	}
	return wrap("create invitation", err)
}

func scanInvitation(row pgx.Row) (*account.Invitation, error) {
	var i account.Invitation
	if err := row.Scan(&i.ID, &i.Digest, &i.UserID, &i.CreatedAt, &i.ExpiresAt, &i.UsedAt, &i.RevokedAt, &i.RenewedAt); err != nil {
		return nil, err
	}
	i.CreatedAt, i.ExpiresAt = i.CreatedAt.UTC(), i.ExpiresAt.UTC()
	i.UsedAt, i.RevokedAt, i.RenewedAt = utcPtr(i.UsedAt), utcPtr(i.RevokedAt), utcPtr(i.RenewedAt)
	return &i, nil
}

// invitation runs a statement returning at most one invitation row;
// ENOTFOUND when it returns none.
func (t *tx) invitation(ctx context.Context, what, sql string, args ...any) (*account.Invitation, error) {
	i, err := scanInvitation(t.tx.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, account.Errorf(account.ENOTFOUND, account.MsgInvalidToken)
	}
	if err != nil {
		return nil, wrap(what, err)
	}
	return i, nil
}

// InvitationByDigest searches invitations_digest.
func (t *tx) InvitationByDigest(ctx context.Context, digest []byte) (*account.Invitation, error) {
	return t.invitation(ctx, "find invitation", `SELECT `+invitationColumns+` FROM invitations WHERE digest = $1`, digest)
}

// ConsumeInvitation spends the invitation in one conditional UPDATE. Of
// concurrent transactions the first to update the row wins; the others
// wait for it, then find used_at set and match no row.
func (t *tx) ConsumeInvitation(ctx context.Context, digest []byte, now time.Time) (*account.Invitation, error) {
	return t.invitation(ctx, "consume invitation", `
		UPDATE invitations SET used_at = $1
		WHERE digest = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
		RETURNING `+invitationColumns, now, digest)
}

// RenewInvitation marks an expired, unspent invitation renewed, once.
func (t *tx) RenewInvitation(ctx context.Context, digest []byte, now time.Time) (*account.Invitation, error) {
	return t.invitation(ctx, "renew invitation", `
		UPDATE invitations SET renewed_at = $1
		WHERE digest = $2 AND used_at IS NULL AND revoked_at IS NULL AND renewed_at IS NULL AND expires_at <= $1
		RETURNING `+invitationColumns, now, digest)
}

// RevokeInvitations revokes the user's live invitations but the newest keep
// (revokeLive).
func (t *tx) RevokeInvitations(ctx context.Context, userID int64, keep int, now time.Time) (int, error) {
	return t.revokeLive(ctx, "invitations", "revoke invitations", userID, keep, now)
}
