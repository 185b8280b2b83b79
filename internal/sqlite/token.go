package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// The statements of reset tokens whose plans TestQueryPlans checks: each
// reads one row through a unique digest index.
const (
	// sqlLive is the condition of a live reset token at ?2 (expires_at <=
	// now is expired).
	sqlLive                   = `used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2`
	sqlResetTokenColumns      = `id, digest, user_id, created_at, expires_at`
	sqlLiveResetToken         = `SELECT ` + sqlResetTokenColumns + ` FROM reset_tokens WHERE digest = ?1 AND ` + sqlLive
	sqlLiveResetTokenByCancel = `SELECT ` + sqlResetTokenColumns + ` FROM reset_tokens
		WHERE cancel_digest = ?1 AND ` + sqlLive
	sqlConsumeResetToken = `UPDATE reset_tokens SET used_at = ?2 WHERE digest = ?1 AND ` + sqlLive + `
		RETURNING ` + sqlResetTokenColumns
)

// CreateResetToken inserts t and sets t.ID; ECONFLICT if its digest or
// cancel digest exists, ENOTFOUND if t.UserID names no user.
func (t *tx) CreateResetToken(_ context.Context, rt *account.ResetToken) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `INSERT INTO reset_tokens (digest, cancel_digest, user_id, created_at, expires_at, used_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	res, err := t.exec(q, rt.Digest, rt.CancelDigest, rt.UserID, unixNano(rt.CreatedAt), unixNano(rt.ExpiresAt),
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

// LiveResetToken returns the token with that digest if it is neither used,
// revoked nor expired at now; ENOTFOUND otherwise.
func (t *tx) LiveResetToken(_ context.Context, digest []byte, now time.Time) (*account.ResetToken, error) {
	rt, err := scanResetToken(t.queryRow(sqlLiveResetToken, digest, now.UnixNano()).Scan)
	if err != nil {
		return nil, notFound(err, "find reset token", account.MsgInvalidToken)
	}
	return rt, nil
}

// LiveResetTokenByCancel returns the live token whose cancel digest is
// cancelDigest; ENOTFOUND otherwise.
func (t *tx) LiveResetTokenByCancel(_ context.Context, cancelDigest []byte, now time.Time) (*account.ResetToken, error) {
	rt, err := scanResetToken(t.queryRow(sqlLiveResetTokenByCancel, cancelDigest, now.UnixNano()).Scan)
	if err != nil {
		return nil, notFound(err, "find reset token by cancel token", account.MsgInvalidToken)
	}
	return rt, nil
}

// ConsumeResetToken marks the live token with that digest used at now, in
// one conditional UPDATE whose returned row decides, and returns it;
// ENOTFOUND if it was not live. Of concurrent calls exactly one wins.
func (t *tx) ConsumeResetToken(_ context.Context, digest []byte, now time.Time) (*account.ResetToken, error) {
	if err := t.checkWrite(); err != nil {
		return nil, err
	}
	n := now.UnixNano()
	rt, err := scanResetToken(t.queryRow(sqlConsumeResetToken, digest, n).Scan)
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
// UPDATE sorts the user's tokens and journals the statement, several times
// what the count costs the writer (docs/perf.md).
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
	const q = `INSERT INTO auth_tokens (digest, user_id, created_at, source) VALUES (?, ?, ?, ?)`
	if _, err := t.exec(q, at.Digest, at.UserID, unixNano(at.CreatedAt), at.Source); err != nil {
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

const sqlRevokeAuthTokens = `UPDATE auth_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL
	AND rowid NOT IN (SELECT rowid FROM auth_tokens WHERE user_id = ?2 AND revoked_at IS NULL
		ORDER BY created_at DESC, rowid DESC LIMIT ?3)`

// RevokeAuthTokens revokes the user's unrevoked auth tokens at now, except
// the newest keep.
func (t *tx) RevokeAuthTokens(_ context.Context, userID int64, keep int, now time.Time) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if _, err := t.exec(sqlRevokeAuthTokens, now.UnixNano(), userID, keep); err != nil {
		return fmt.Errorf("revoke auth tokens: %w", err)
	}
	return nil
}

const sqlLoggedInFrom = `SELECT EXISTS (SELECT 1 FROM auth_tokens WHERE user_id = ? AND source = ? AND created_at > ?)`

// LoggedInFrom reports whether an auth token was issued to the user for
// that source after since.
func (t *tx) LoggedInFrom(_ context.Context, userID int64, source []byte, since time.Time) (bool, error) {
	var ok bool
	if err := t.queryRow(sqlLoggedInFrom, userID, source, unixNano(since)).Scan(&ok); err != nil {
		return false, fmt.Errorf("find login source: %w", err)
	}
	return ok, nil
}
