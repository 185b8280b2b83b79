package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cruxd/cruxd/internal/account"
)

// tx implements account.Tx on one pgx transaction.
type tx struct {
	tx       pgx.Tx
	readOnly bool // a View
}

var _ account.Tx = (*tx)(nil)

// Creations use ON CONFLICT DO NOTHING and report ECONFLICT when no row came
// back: a unique violation would abort the whole transaction, while the
// domain may go on after a conflict.

func (t *tx) CreateOrganization(ctx context.Context, o *account.Organization) error {
	err := t.tx.QueryRow(ctx, `
		INSERT INTO organizations (uuid, name, type, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING RETURNING id`,
		o.UUID, o.Name, string(o.Type), o.CreatedAt).Scan(&o.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.Errorf(account.ECONFLICT, account.MsgOrgAlreadyExists)
	}
	return wrap("create organization", err)
}

func (t *tx) OrganizationByName(ctx context.Context, name string) (*account.Organization, error) {
	var o account.Organization
	var typ string
	err := t.tx.QueryRow(ctx, `SELECT id, uuid, name, type, created_at FROM organizations WHERE name = $1`, name).
		Scan(&o.ID, &o.UUID, &o.Name, &typ, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, account.Errorf(account.ENOTFOUND, "No organization has that name.")
	}
	if err != nil {
		return nil, wrap("find organization", err)
	}
	o.Type, o.CreatedAt = account.OrgType(typ), o.CreatedAt.UTC()
	return &o, nil
}

// CountUsers in a read-write transaction first takes a transaction-level
// advisory lock, and counts only once it holds it, in a new snapshot. So
// "count, then create if none" (seeding an empty database) runs one
// transaction at a time across processes: a second seeder waits for the
// first to commit and then counts its users.
func (t *tx) CountUsers(ctx context.Context) (int, error) {
	if !t.readOnly {
		if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockCountUsers); err != nil {
			return 0, wrap("count users", err)
		}
	}
	var n int
	err := t.tx.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, wrap("count users", err)
}

func (t *tx) CreateUser(ctx context.Context, u *account.User) error {
	perms := u.Permissions
	if perms == nil {
		perms = []string{}
	}
	err := t.tx.QueryRow(ctx, `
		INSERT INTO users (uuid, person_uuid, org_id, email, first_name, last_name, phone, job_title,
			status, password_hash, permissions, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT DO NOTHING RETURNING id`,
		u.UUID, u.PersonUUID, u.OrgID, u.Email, u.FirstName, u.LastName, u.Phone, u.JobTitle,
		string(u.Status), u.PasswordHash, perms, u.CreatedAt).Scan(&u.ID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return account.Errorf(account.ECONFLICT, account.MsgUserAlreadyExists)
	case pgCode(err) == codeForeignKeyViolation:
		return account.Errorf(account.ENOTFOUND, "No such organization.")
	case err != nil:
		return wrap("create user", err)
	}
	return nil
}

// userColumns selects a user joined with its organization, in the order
// scanUser reads them.
const userColumns = `
	SELECT u.id, u.uuid, u.person_uuid, u.org_id, u.email, u.first_name, u.last_name, u.phone,
		u.job_title, u.status, u.password_hash, u.permissions, u.created_at,
		o.id, o.uuid, o.name, o.type, o.created_at
	FROM users u JOIN organizations o ON o.id = u.org_id`

func scanUser(row pgx.Row) (*account.User, error) {
	var u account.User
	var o account.Organization
	var status, typ string
	err := row.Scan(&u.ID, &u.UUID, &u.PersonUUID, &u.OrgID, &u.Email, &u.FirstName, &u.LastName, &u.Phone,
		&u.JobTitle, &status, &u.PasswordHash, &u.Permissions, &u.CreatedAt,
		&o.ID, &o.UUID, &o.Name, &typ, &o.CreatedAt)
	if err != nil {
		return nil, err
	}
	if len(u.Permissions) == 0 {
		u.Permissions = nil
	}
	u.Status, u.CreatedAt = account.Status(status), u.CreatedAt.UTC()
	o.Type, o.CreatedAt = account.OrgType(typ), o.CreatedAt.UTC()
	u.Org = &o
	return &u, nil
}

func (t *tx) user(ctx context.Context, op, where string, arg any) (*account.User, error) {
	u, err := scanUser(t.tx.QueryRow(ctx, userColumns+" WHERE "+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, account.Errorf(account.ENOTFOUND, "No such user.")
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return u, nil
}

func (t *tx) UserByID(ctx context.Context, id int64) (*account.User, error) {
	return t.user(ctx, "find user by id", "u.id = $1", id)
}

func (t *tx) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	return t.user(ctx, "find user by e-mail", "u.email = $1", email)
}

func (t *tx) UserByUUID(ctx context.Context, uuid string) (*account.User, error) {
	return t.user(ctx, "find user by uuid", "u.uuid = $1", uuid)
}

func (t *tx) Users(ctx context.Context) ([]*account.User, error) {
	return t.users(ctx, userColumns+" ORDER BY u.id")
}

func (t *tx) OrgUsers(ctx context.Context, orgID int64, offset, limit int) ([]*account.User, error) {
	return t.users(ctx, userColumns+" WHERE u.org_id = $1 ORDER BY u.id LIMIT $2 OFFSET $3", orgID, limit, offset)
}

func (t *tx) users(ctx context.Context, sql string, args ...any) ([]*account.User, error) {
	rows, err := t.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	var users []*account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		users = append(users, u)
	}
	return users, wrap("list users", rows.Err())
}

func (t *tx) SetPassword(ctx context.Context, userID int64, hash string) error {
	return t.updateUser(ctx, "set password", `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, hash)
}

func (t *tx) SetStatus(ctx context.Context, userID int64, s account.Status) error {
	return t.updateUser(ctx, "set status", `UPDATE users SET status = $2 WHERE id = $1`, userID, string(s))
}

func (t *tx) SetPermissions(ctx context.Context, userID int64, perms []string) error {
	if perms == nil {
		perms = []string{}
	}
	return t.updateUser(ctx, "set permissions", `UPDATE users SET permissions = $2 WHERE id = $1`, userID, perms)
}

func (t *tx) HasActiveHolder(ctx context.Context, orgID int64, perm string, except int64) (bool, error) {
	var found bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND id <> $2
		AND status = $3 AND $4 = ANY (permissions))`, orgID, except, string(account.StatusActive), perm).Scan(&found)
	return found, wrap("find a holder of "+perm, err)
}

// LockOrganization takes the organization's row lock: under READ COMMITTED
// two transactions that each check "someone else still holds
// edit_org_users" before removing it would otherwise both pass.
func (t *tx) LockOrganization(ctx context.Context, id int64) error {
	tag, err := t.tx.Exec(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return wrap("lock organization", err)
	}
	if tag.RowsAffected() == 0 {
		return account.Errorf(account.ENOTFOUND, "No such organization.")
	}
	return nil
}

func (t *tx) updateUser(ctx context.Context, op, sql string, args ...any) error {
	tag, err := t.tx.Exec(ctx, sql, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return account.Errorf(account.ENOTFOUND, "No such user.")
	}
	return nil
}

func (t *tx) CreateResetToken(ctx context.Context, rt *account.ResetToken) error {
	err := t.tx.QueryRow(ctx, `
		INSERT INTO reset_tokens (digest, cancel_digest, user_id, created_at, expires_at, used_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING
		RETURNING id`,
		rt.Digest, rt.CancelDigest, rt.UserID, rt.CreatedAt, rt.ExpiresAt, rt.UsedAt, rt.RevokedAt).Scan(&rt.ID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return account.Errorf(account.ECONFLICT, "The reset token already exists.")
	case pgCode(err) == codeForeignKeyViolation:
		return account.Errorf(account.ENOTFOUND, "No such user.")
	}
	return wrap("create reset token", err)
}

const resetTokenColumns = `id, digest, user_id, created_at, expires_at, used_at, revoked_at`

// resetTokenDest are the scan targets of resetTokenColumns, in rt.
func resetTokenDest(rt *account.ResetToken) []any {
	return []any{&rt.ID, &rt.Digest, &rt.UserID, &rt.CreatedAt, &rt.ExpiresAt, &rt.UsedAt, &rt.RevokedAt}
}

// inUTC sets the times of a scanned token in UTC.
func inUTC(rt *account.ResetToken) *account.ResetToken {
	rt.CreatedAt, rt.ExpiresAt = rt.CreatedAt.UTC(), rt.ExpiresAt.UTC()
	rt.UsedAt, rt.RevokedAt = utcPtr(rt.UsedAt), utcPtr(rt.RevokedAt)
	return rt
}

func scanResetToken(row pgx.Row) (*account.ResetToken, error) {
	var rt account.ResetToken
	if err := row.Scan(resetTokenDest(&rt)...); err != nil {
		return nil, err
	}
	return inUTC(&rt), nil
}

// LiveResetToken searches reset_tokens_digest.
func (t *tx) LiveResetToken(ctx context.Context, digest []byte, now time.Time) (*account.ResetToken, error) {
	return t.liveResetToken(ctx, "find reset token", "digest", digest, now)
}

// LiveResetTokenByCancel searches reset_tokens_cancel_digest.
func (t *tx) LiveResetTokenByCancel(ctx context.Context, cancelDigest []byte, now time.Time) (*account.ResetToken, error) {
	return t.liveResetToken(ctx, "find reset token by cancel token", "cancel_digest", cancelDigest, now)
}

// liveResetToken returns the live token at now whose column (a constant of
// the caller's) is digest.
func (t *tx) liveResetToken(ctx context.Context, what, column string, digest []byte, now time.Time) (*account.ResetToken, error) {
	rt, err := scanResetToken(t.tx.QueryRow(ctx, `
		SELECT `+resetTokenColumns+` FROM reset_tokens
		WHERE `+column+` = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2`, digest, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, account.Errorf(account.ENOTFOUND, account.MsgInvalidToken)
	}
	if err != nil {
		return nil, wrap(what, err)
	}
	return rt, nil
}

// ConsumeResetToken spends the token in one conditional UPDATE. Of
// concurrent transactions with one token, the first to update the row wins;
// the others wait for it and then find used_at set, so they match no row.
func (t *tx) ConsumeResetToken(ctx context.Context, digest []byte, now time.Time) (*account.ResetToken, error) {
	rt, err := scanResetToken(t.tx.QueryRow(ctx, `
		UPDATE reset_tokens SET used_at = $1
		WHERE digest = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
		RETURNING `+resetTokenColumns, now, digest))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, account.Errorf(account.ENOTFOUND, account.MsgInvalidToken)
	}
	if err != nil {
		return nil, wrap("consume reset token", err)
	}
	return rt, nil
}

// RevokeResetTokens first locks the user's row, so that concurrent
// issuers for one account take turns and each sees the others' tokens:
// otherwise two transactions could each keep a different newest set and
// leave more than keep tokens live.
func (t *tx) RevokeResetTokens(ctx context.Context, userID int64, keep int, now time.Time) (int, error) {
	return t.revokeLive(ctx, "reset_tokens", "revoke reset tokens", userID, keep, now)
}

// revokeLive revokes the user's live rows of table (reset_tokens or
// invitations: unused, unrevoked, unexpired at now) except the newest
// keep, under a lock on the user's row so that concurrent issuers for one
// user take turns; no user, no rows.
func (t *tx) revokeLive(ctx context.Context, table, op string, userID int64, keep int, now time.Time) (int, error) {
	var id int64
	err := t.tx.QueryRow(ctx, `SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap(op, err)
	}
	// table is one of two constants above, never input.
	tag, err := t.tx.Exec(ctx, `
		UPDATE `+table+` SET revoked_at = $3
		WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3
		AND id NOT IN (
			SELECT id FROM `+table+`
			WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3
			ORDER BY created_at DESC, id DESC LIMIT $2)`,
		userID, max(keep, 0), now)
	if err != nil {
		return 0, wrap(op, err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) CreateAuthToken(ctx context.Context, at *account.AuthToken) error {
	tag, err := t.tx.Exec(ctx, `
		INSERT INTO auth_tokens (digest, user_id, created_at, source) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, at.Digest, at.UserID, at.CreatedAt, at.Source)
	switch {
	case pgCode(err) == codeForeignKeyViolation:
		return account.Errorf(account.ENOTFOUND, "No such user.")
	case err != nil:
		return wrap("create auth token", err)
	case tag.RowsAffected() == 0:
		return account.Errorf(account.ECONFLICT, "The auth token already exists.")
	}
	return nil
}

func (t *tx) UserByAuthToken(ctx context.Context, digest []byte, issuedAfter time.Time) (*account.User, error) {
	u, err := scanUser(t.tx.QueryRow(ctx, userColumns+`
		JOIN auth_tokens a ON a.user_id = u.id
		WHERE a.digest = $1 AND a.revoked_at IS NULL AND a.created_at > $2`, digest, issuedAfter))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, account.Errorf(account.ENOTFOUND, account.MsgInvalidAuthToken)
	}
	if err != nil {
		return nil, wrap("find user by auth token", err)
	}
	return u, nil
}

func (t *tx) RevokeAuthToken(ctx context.Context, digest []byte, now time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE auth_tokens SET revoked_at = $2 WHERE digest = $1 AND revoked_at IS NULL`,
		digest, now)
	if err != nil {
		return wrap("revoke auth token", err)
	}
	if tag.RowsAffected() == 0 {
		return account.Errorf(account.ENOTFOUND, account.MsgInvalidAuthToken)
	}
	return nil
}

// RevokeAuthTokens first locks the user's row, so that of concurrent
// logins each revokes in a snapshot holding the tokens of those that
// committed before it: under READ COMMITTED they would otherwise all keep
// keep tokens besides each other's. NO KEY UPDATE does not wait for the
// KEY SHARE lock a token insert holds on the user.
func (t *tx) RevokeAuthTokens(ctx context.Context, userID int64, keep int, now time.Time) error {
	if keep > 0 {
		if _, err := t.tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID); err != nil {
			return wrap("lock user", err)
		}
	}
	_, err := t.tx.Exec(ctx, `
		UPDATE auth_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL
		AND digest NOT IN (SELECT digest FROM auth_tokens WHERE user_id = $1 AND revoked_at IS NULL
			ORDER BY created_at DESC, digest DESC LIMIT $3)`, userID, now, keep)
	return wrap("revoke auth tokens", err)
}

func (t *tx) LoggedInFrom(ctx context.Context, userID int64, source []byte, since time.Time) (bool, error) {
	var ok bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auth_tokens WHERE user_id = $1 AND source = $2 AND created_at > $3)`,
		userID, source, since).Scan(&ok)
	return ok, wrap("find login source", err)
}

// Reserve counts in one conditional upsert, so concurrent reservations
// from any number of processes never pass max together. The same statement
// purges the key's older windows.
func (t *tx) Reserve(ctx context.Context, key string, windowStart time.Time, max int) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	var n int
	err := t.tx.QueryRow(ctx, `
		WITH purge AS (DELETE FROM counters WHERE key = $1 AND window_start < $2)
		INSERT INTO counters (key, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = counters.count + 1 WHERE counters.count < $3
		RETURNING count`, key, windowStart, max).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, wrap("reserve counter", err)
}

func (t *tx) Release(ctx context.Context, key string, windowStart time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE counters SET count = count - 1 WHERE key = $1 AND window_start = $2 AND count > 0`,
		key, windowStart)
	return wrap("release counter", err)
}

func (t *tx) ClearCounter(ctx context.Context, key string) error {
	_, err := t.tx.Exec(ctx, `DELETE FROM counters WHERE key = $1`, key)
	return wrap("clear counter", err)
}

func (t *tx) AppendAudit(ctx context.Context, e *account.AuditEvent) error {
	err := t.tx.QueryRow(ctx, `
		INSERT INTO audit (at, action, email_digest, user_id, ip, user_agent, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		e.At, e.Action, e.EmailDigest, nullID(e.UserID), e.IP, e.UserAgent, e.Detail).Scan(&e.ID)
	return wrap("append audit event", err)
}

// wrap adds the operation to a store failure and classifies it.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return classify(fmt.Errorf("%s: %w", op, err))
}

// pgCode returns the SQLSTATE of a server error in err's chain, or "".
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// nullID stores the "none" id 0 as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// legacyHash selects the hashes that are neither empty nor start with the
// current prefix, $1.
const legacyHash = `password_hash <> '' AND left(password_hash, length($1)) <> $1`

// LegacyPasswordHashes returns the hashes left to replace at their next
// login: neither empty nor starting with current.
func (t *tx) LegacyPasswordHashes(ctx context.Context, current string) ([]string, error) {
	rows, err := t.tx.Query(ctx, `SELECT password_hash FROM users WHERE `+legacyHash, current)
	if err != nil {
		return nil, wrap("list legacy password hashes", err)
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return hashes, wrap("list legacy password hashes", err)
}

// ClearLegacyPasswords empties the legacy hashes of the users created
// before createdBefore and returns them, ID and Email set.
func (t *tx) ClearLegacyPasswords(ctx context.Context, current string, createdBefore time.Time) ([]*account.User, error) {
	rows, err := t.tx.Query(ctx, `UPDATE users SET password_hash = '' WHERE `+legacyHash+` AND created_at < $2 RETURNING id, email`,
		current, createdBefore)
	if err != nil {
		return nil, wrap("clear legacy password hashes", err)
	}
	us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*account.User, error) {
		u := &account.User{}
		return u, r.Scan(&u.ID, &u.Email)
	})
	return us, wrap("clear legacy password hashes", err)
}
