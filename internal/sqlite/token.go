package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// The statements of reset tokens whose plans TestQueryPlans checks: each
// reads one row through the rowid or the legacy digest index.
const (
	sqlNextResetTokenID = `SELECT ifnull(max(id), 0) + 1 FROM reset_tokens`
	// sqlLive is the condition of a live reset token at ?2 (expires_at <=
	// now is expired).
	sqlLive                 = `used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2`
	sqlResetTokenColumns    = `id, digest, user_id, created_at, expires_at`
	sqlLiveResetToken       = `SELECT ` + sqlResetTokenColumns + ` FROM reset_tokens WHERE id = ?1 AND ` + sqlLive
	sqlLiveLegacyResetToken = `SELECT ` + sqlResetTokenColumns + ` FROM reset_tokens
		WHERE digest = ?1 AND legacy = 1 AND ` + sqlLive
	sqlConsumeResetToken = `UPDATE reset_tokens SET used_at = ?2 WHERE id = ?1 AND digest = ?3 AND ` + sqlLive + `
		RETURNING ` + sqlResetTokenColumns
)

// NextResetTokenID returns the id the next reset token will have: one
// more than the newest row's. Only the writer creates rows, so the id is
// still free when CreateResetToken uses it in the same transaction.
func (t *tx) NextResetTokenID(context.Context) (int64, error) {
	if err := t.checkWrite(); err != nil {
		return 0, err
	}
	var id int64
	if err := t.queryRow(sqlNextResetTokenID).Scan(&id); err != nil {
		return 0, fmt.Errorf("next reset token id: %w", err)
	}
	return id, nil
}

// CreateResetToken inserts t under t.ID, or under a new id that it sets
// when t.ID is 0; ECONFLICT if the id exists, ENOTFOUND if t.UserID names
// no user.
func (t *tx) CreateResetToken(_ context.Context, rt *account.ResetToken) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `INSERT INTO reset_tokens (id, digest, user_id, created_at, expires_at, used_at, revoked_at)
		VALUES (nullif(?, 0), ?, ?, ?, ?, ?, ?)`
	res, err := t.exec(q, rt.ID, rt.Digest, rt.UserID, unixNano(rt.CreatedAt), unixNano(rt.ExpiresAt),
		nullNano(rt.UsedAt), nullNano(rt.RevokedAt))
	if err != nil {
		return classify(err, "insert reset token", "reset token exists", "user not found")
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert reset token: %w", err)
	}
	rt.ID = id
	return nil
}

// LiveResetToken returns the token with that id, its digest as stored, if
// it is neither used, revoked nor expired at now; ENOTFOUND otherwise.
func (t *tx) LiveResetToken(_ context.Context, id int64, now time.Time) (*account.ResetToken, error) {
	rt, err := scanResetToken(t.queryRow(sqlLiveResetToken, id, now.UnixNano()).Scan)
	if err != nil {
		return nil, notFound(err, "find reset token", account.MsgInvalidToken)
	}
	return rt, nil
}

// LiveLegacyResetToken returns the live token issued before migration 8
// with that digest: a search of reset_tokens_legacy_digest.
func (t *tx) LiveLegacyResetToken(_ context.Context, digest []byte, now time.Time) (*account.ResetToken, error) {
	rt, err := scanResetToken(t.queryRow(sqlLiveLegacyResetToken, digest, now.UnixNano()).Scan)
	if err != nil {
		return nil, notFound(err, "find legacy reset token", account.MsgInvalidToken)
	}
	return rt, nil
}

// ConsumeResetToken marks the live token with that id and digest used at
// now, in one conditional UPDATE whose returned row decides, and returns
// it; ENOTFOUND if it was not live. Of concurrent calls exactly one wins.
func (t *tx) ConsumeResetToken(_ context.Context, id int64, digest []byte, now time.Time) (*account.ResetToken, error) {
	if err := t.checkWrite(); err != nil {
		return nil, err
	}
	n := now.UnixNano()
	rt, err := scanResetToken(t.queryRow(sqlConsumeResetToken, id, n, digest).Scan)
	if err != nil {
		return nil, notFound(err, "consume reset token", account.MsgInvalidToken)
	}
	used := fromNano(n)
	rt.UsedAt = &used
	return rt, nil
}

func scanResetToken(scan func(...any) error) (*account.ResetToken, error) {
	var (
		rt               account.ResetToken
		created, expires int64
	)
	if err := scan(&rt.ID, &rt.Digest, &rt.UserID, &created, &expires); err != nil {
		return nil, err
	}
	rt.CreatedAt, rt.ExpiresAt = fromNano(created), fromNano(expires)
	return &rt, nil
}

// Secret returns the secret stored under name, storing fresh under it
// first if there is none.
func (t *tx) Secret(_ context.Context, name string, fresh []byte) ([]byte, error) {
	if err := t.checkWrite(); err != nil {
		return nil, err
	}
	if _, err := t.exec(`INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fmt.Errorf("store secret: %w", err)
	}
	var v []byte
	if err := t.queryRow(`SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	return v, nil
}

// sqlRevokeResetTokens revokes at ?2 the live tokens of user ?1 but the
// newest ?3: a search of reset_tokens_unspent for the user's entries not
// expired at ?2 (migration 7, TestQueryPlans).
const sqlRevokeResetTokens = `UPDATE reset_tokens SET revoked_at = ?2 WHERE id IN (
	SELECT id FROM reset_tokens
	WHERE user_id = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
	ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?3)`

// sqlCountLiveResetTokens counts user ?1's tokens live at ?2 in the same
// search of reset_tokens_unspent, reading no row.
const sqlCountLiveResetTokens = `SELECT count(*) FROM reset_tokens
	WHERE user_id = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2`

// RevokeResetTokens revokes the user's live tokens at now except the newest
// keep ones (by created_at, then id) and returns how many it revoked.
//
// Every Reset Password calls it with keep 3, and it rarely finds a fourth
// token, so a count decides first whether there is anything to revoke: the
// UPDATE sorts the user's tokens and journals the statement, 13 µs of the
// writer's time a reset against 3 µs for the count.
func (t *tx) RevokeResetTokens(_ context.Context, userID int64, keep int, now time.Time) (int, error) {
	if err := t.checkWrite(); err != nil {
		return 0, err
	}
	n := now.UnixNano()
	if keep > 0 {
		var live int
		if err := t.queryRow(sqlCountLiveResetTokens, userID, n).Scan(&live); err != nil {
			return 0, fmt.Errorf("count live reset tokens: %w", err)
		}
		if live <= keep {
			return 0, nil
		}
	}
	count, err := affected(t.exec(sqlRevokeResetTokens, userID, n, max(keep, 0)))
	if err != nil {
		return 0, fmt.Errorf("revoke reset tokens: %w", err)
	}
	return int(count), nil
}

// CreateAuthToken inserts t; ECONFLICT if its digest exists, ENOTFOUND if
// t.UserID names no user.
func (t *tx) CreateAuthToken(_ context.Context, at *account.AuthToken) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `INSERT INTO auth_tokens (digest, user_id, created_at) VALUES (?, ?, ?)`
	if _, err := t.exec(q, at.Digest, at.UserID, unixNano(at.CreatedAt)); err != nil {
		return classify(err, "insert auth token", "auth token exists", "user not found")
	}
	return nil
}

// UserByAuthToken returns the user holding the unrevoked auth token with
// that digest created after issuedAfter, its Org filled; ENOTFOUND if none.
func (t *tx) UserByAuthToken(_ context.Context, digest []byte, issuedAfter time.Time) (*account.User, error) {
	u, err := scanUser(t.queryRow(sqlUserByAuthToken, digest, unixNano(issuedAfter)).Scan)
	if err != nil {
		return nil, notFound(err, "find user by auth token", account.MsgInvalidAuthToken)
	}
	return u, nil
}

// RevokeAuthToken revokes the unrevoked auth token with that digest at now;
// ENOTFOUND if there is none.
func (t *tx) RevokeAuthToken(_ context.Context, digest []byte, now time.Time) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `UPDATE auth_tokens SET revoked_at = ? WHERE digest = ? AND revoked_at IS NULL`
	res, err := t.exec(q, unixNano(now), digest)
	if err != nil {
		return fmt.Errorf("revoke auth token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return account.Errorf(account.ENOTFOUND, account.MsgInvalidAuthToken)
	}
	return nil
}

// RevokeAuthTokens revokes every live auth token of the user at now.
func (t *tx) RevokeAuthTokens(_ context.Context, userID int64, now time.Time) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `UPDATE auth_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`
	if _, err := t.exec(q, now.UnixNano(), userID); err != nil {
		return fmt.Errorf("revoke auth tokens: %w", err)
	}
	return nil
}
