package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// CreateOrganization inserts o and sets o.ID; ECONFLICT if its name or UUID
// is taken.
func (t *tx) CreateOrganization(_ context.Context, o *account.Organization) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	const q = `INSERT INTO organizations (uuid, name, type, created_at) VALUES (?, ?, ?, ?)`
	res, err := t.exec(q, o.UUID, o.Name, string(o.Type), unixNano(o.CreatedAt))
	if err != nil {
		return classify(err, "insert organization", account.MsgOrgAlreadyExists, "")
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert organization: %w", err)
	}
	o.ID = id
	return nil
}

// LockOrganization checks that the organization exists. SQLite runs one
// write transaction at a time, which already serializes the changes it
// guards.
func (t *tx) LockOrganization(_ context.Context, id int64) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	var one int
	if err := t.queryRow(`SELECT 1 FROM organizations WHERE id = ?`, id).Scan(&one); err != nil {
		return notFound(err, "lock organization", "organization not found")
	}
	return nil
}

// OrganizationByName returns the organization with exactly that name;
// ENOTFOUND if none.
func (t *tx) OrganizationByName(_ context.Context, name string) (*account.Organization, error) {
	const q = `SELECT id, uuid, name, type, created_at FROM organizations WHERE name = ?`
	var (
		o       account.Organization
		created int64
	)
	err := t.queryRow(q, name).Scan(&o.ID, &o.UUID, &o.Name, (*string)(&o.Type), &created)
	if err != nil {
		return nil, notFound(err, "find organization", "organization not found")
	}
	o.CreatedAt = fromNano(created)
	return &o, nil
}

// CountUsers returns the number of users.
func (t *tx) CountUsers(context.Context) (int, error) {
	var n int
	if err := t.queryRow(`SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CreateUser inserts u and sets u.ID;
// ECONFLICT if the address or UUID is taken, ENOTFOUND if u.OrgID names no
// organization, EINVALID for a permission name holding a comma.
func (t *tx) CreateUser(_ context.Context, u *account.User) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if err := checkPermissionNames(u.Permissions); err != nil {
		return err
	}
	const q = `INSERT INTO users (uuid, person_uuid, org_id, email, first_name, last_name, phone, job_title,
		status, password_hash, permissions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	res, err := t.exec(q, u.UUID, u.PersonUUID, u.OrgID, u.Email, u.FirstName, u.LastName, u.Phone, u.JobTitle,
		string(u.Status), u.PasswordHash, strings.Join(u.Permissions, ","), unixNano(u.CreatedAt))
	if err != nil {
		return classify(err, "insert user", account.MsgUserAlreadyExists, "organization not found")
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	u.ID = id
	return nil
}

// checkPermissionNames refuses a name the comma-separated column cannot
// hold.
func checkPermissionNames(perms []string) error {
	for _, p := range perms {
		if strings.Contains(p, ",") {
			return account.FieldError(account.EINVALID, "permissions", fmt.Sprintf("%q is not a known permission.", p))
		}
	}
	return nil
}

// selectUser reads a user and its organization.
const selectUser = `SELECT u.id, u.uuid, u.person_uuid, u.org_id, u.email, u.first_name, u.last_name,
	u.phone, u.job_title, u.status, u.password_hash, u.permissions, u.created_at,
	o.uuid, o.name, o.type, o.created_at
	FROM users u JOIN organizations o ON o.id = u.org_id `

const (
	sqlUserByID        = selectUser + `WHERE u.id = ?`
	sqlUserByEmail     = selectUser + `WHERE u.email = ?`
	sqlUserByUUID      = selectUser + `WHERE u.uuid = ?`
	sqlUsers           = selectUser + `ORDER BY u.id`
	sqlOrgUsers        = selectUser + `WHERE u.org_id = ? ORDER BY u.id LIMIT ? OFFSET ?`
	sqlUserByAuthToken = selectUser + `JOIN auth_tokens a ON a.user_id = u.id
		WHERE a.digest = ? AND a.revoked_at IS NULL AND a.created_at > ?`
)

// scanUser scans a row of selectUser.
func scanUser(scan func(...any) error) (*account.User, error) {
	var (
		u                   account.User
		o                   account.Organization
		perms               string
		created, orgCreated int64
	)
	err := scan(&u.ID, &u.UUID, &u.PersonUUID, &u.OrgID, &u.Email, &u.FirstName, &u.LastName,
		&u.Phone, &u.JobTitle, (*string)(&u.Status), &u.PasswordHash, &perms, &created,
		&o.UUID, &o.Name, (*string)(&o.Type), &orgCreated)
	if err != nil {
		return nil, err
	}
	if perms != "" {
		u.Permissions = strings.Split(perms, ",")
	}
	u.CreatedAt = fromNano(created)
	o.ID, o.CreatedAt = u.OrgID, fromNano(orgCreated)
	u.Org = &o
	return &u, nil
}

func (t *tx) userBy(query string, arg any) (*account.User, error) {
	u, err := scanUser(t.queryRow(query, arg).Scan)
	if err != nil {
		return nil, notFound(err, "find user", "user not found")
	}
	return u, nil
}

// UserByID returns the user with that id, its Org filled; ENOTFOUND if none.
func (t *tx) UserByID(_ context.Context, id int64) (*account.User, error) {
	return t.userBy(sqlUserByID, id)
}

// UserByEmail returns the user with that address, its Org filled; ENOTFOUND
// if none.
func (t *tx) UserByEmail(_ context.Context, email string) (*account.User, error) {
	return t.userBy(sqlUserByEmail, email)
}

// UserByUUID returns the user with that UUID, its Org filled; ENOTFOUND if
// none.
func (t *tx) UserByUUID(_ context.Context, uuid string) (*account.User, error) {
	return t.userBy(sqlUserByUUID, uuid)
}

// Users returns every user ordered by id, each with its Org filled.
func (t *tx) Users(context.Context) ([]*account.User, error) {
	return t.users(sqlUsers)
}

// OrgUsers returns up to limit users of the organization ordered by id,
// after the first offset, each with its Org filled. users_org_id holds
// org_id then the rowid, so the index alone yields them in order.
func (t *tx) OrgUsers(_ context.Context, orgID int64, offset, limit int) ([]*account.User, error) {
	return t.users(sqlOrgUsers, orgID, limit, offset)
}

func (t *tx) users(query string, args ...any) ([]*account.User, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var us []*account.User
	for rows.Next() {
		u, err := scanUser(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// SetPassword replaces the user's password hash; ENOTFOUND if no such user.
func (t *tx) SetPassword(_ context.Context, userID int64, hash string) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	return t.updateUser(`UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID, "set password")
}

// SetStatus sets the user's status; ENOTFOUND if no such user.
func (t *tx) SetStatus(_ context.Context, userID int64, s account.Status) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	return t.updateUser(`UPDATE users SET status = ? WHERE id = ?`, string(s), userID, "set status")
}

// SetPermissions replaces the user's permission names; ENOTFOUND if no
// such user, EINVALID for a name holding a comma.
func (t *tx) SetPermissions(_ context.Context, userID int64, perms []string) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if err := checkPermissionNames(perms); err != nil {
		return err
	}
	return t.updateUser(`UPDATE users SET permissions = ? WHERE id = ?`, strings.Join(perms, ","), userID, "set permissions")
}

// HasActiveHolder reports whether an ACTIVE user of the organization other
// than except holds perm. Permissions are a comma-separated list, so the
// name is matched between commas.
func (t *tx) HasActiveHolder(_ context.Context, orgID int64, perm string, except int64) (bool, error) {
	var one int
	err := t.queryRow(`SELECT 1 FROM users WHERE org_id = ? AND id <> ? AND status = ?
		AND instr(',' || permissions || ',', ',' || ? || ',') > 0 LIMIT 1`,
		orgID, except, string(account.StatusActive), perm).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find a holder of %s: %w", perm, err)
	}
	return true, nil
}

func (t *tx) updateUser(query string, value any, userID int64, what string) error {
	n, err := affected(t.exec(query, value, userID))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return account.Errorf(account.ENOTFOUND, "user not found")
	}
	return nil
}

// legacyHash selects the hashes that are neither empty nor start with the
// current prefix (the first two arguments: its length and itself).
const legacyHash = `password_hash <> '' AND substr(password_hash, 1, ?) <> ?`

// LegacyPasswordHashes returns the hashes left to replace at their next
// login: neither empty nor starting with current.
func (t *tx) LegacyPasswordHashes(_ context.Context, current string) ([]string, error) {
	rows, err := t.query(`SELECT password_hash FROM users WHERE `+legacyHash, len(current), current)
	if err != nil {
		return nil, fmt.Errorf("list legacy password hashes: %w", err)
	}
	defer rows.Close()
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("list legacy password hashes: %w", err)
		}
		hashes = append(hashes, h)
	}
	return hashes, rows.Err()
}

// ClearLegacyPasswords empties the legacy hashes of the users created
// before createdBefore and returns them, ID and Email set.
func (t *tx) ClearLegacyPasswords(_ context.Context, current string, createdBefore time.Time) ([]*account.User, error) {
	if err := t.checkWrite(); err != nil {
		return nil, err
	}
	rows, err := t.query(`UPDATE users SET password_hash = '' WHERE `+legacyHash+` AND created_at < ? RETURNING id, email`,
		len(current), current, unixNano(createdBefore))
	if err != nil {
		return nil, fmt.Errorf("clear legacy password hashes: %w", err)
	}
	defer rows.Close()
	var us []*account.User
	for rows.Next() {
		u := &account.User{}
		if err := rows.Scan(&u.ID, &u.Email); err != nil {
			return nil, fmt.Errorf("clear legacy password hashes: %w", err)
		}
		us = append(us, u)
	}
	return us, rows.Err()
}
