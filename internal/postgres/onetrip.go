package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cruxd/cruxd/internal/account"
)

var _ account.OneTripStore = (*Store)(nil)

// The one-trip paths send their whole transaction as one pgx batch: its
// statements go out together and the server answers them together, so a
// request waits for one round trip instead of one per statement. Each
// statement still runs on its own, in order, with a snapshot of its own
// (READ COMMITTED), exactly as the Tx calls they stand for would; a
// statement that needs the user's id finds it again by address, in the
// unique index on users.email.

// activeUser is the subquery that finds the user of $1 if its status is $2.
const activeUser = `(SELECT id FROM users WHERE email = $1 AND status = $2)`

// IssueResetToken runs, in one round trip: BEGIN; the user's lookup, which
// also takes the row lock of RevokeResetTokens; the token's insert; the
// revocation of the live tokens beyond r.Keep; the mail's and the audit
// event's inserts; COMMIT. Every write names the user by activeUser, so an
// address of no user, or of a user of another status, writes nothing.
func (s *Store) IssueResetToken(ctx context.Context, r *account.ResetIssue) error {
	status := string(r.Status)
	t, a := r.Token, r.Audit
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE`)
	b.Queue(`SELECT id, status FROM users WHERE email = $1 FOR NO KEY UPDATE`, r.Email)
	b.Queue(`
		INSERT INTO reset_tokens (digest, cancel_digest, user_id, created_at, expires_at)
		SELECT $3, $4, id, $5, $6 FROM `+activeUser+` u RETURNING id`,
		r.Email, status, t.Digest, t.CancelDigest, t.CreatedAt, t.ExpiresAt)
	b.Queue(`
		UPDATE reset_tokens SET revoked_at = $4
		WHERE user_id = `+activeUser+` AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $4
		AND id NOT IN (
			SELECT id FROM reset_tokens
			WHERE user_id = `+activeUser+` AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $4
			ORDER BY created_at DESC, id DESC LIMIT $3)`,
		r.Email, status, max(r.Keep, 0), t.CreatedAt)
	if m := r.Mail; m != nil {
		b.Queue(`
			INSERT INTO outbox (kind, to_addr, user_id, meta, created_at, due_at, attempts)
			SELECT $3, $4, id, $5, $6, $6, $7 FROM `+activeUser+` u RETURNING id`,
			r.Email, status, string(m.Kind), m.To, outboxMeta{IP: m.Meta.IP, UserAgent: m.Meta.UserAgent},
			m.CreatedAt, m.Attempts)
	}
	b.Queue(`
		INSERT INTO audit (at, action, email_digest, user_id, ip, user_agent, detail)
		SELECT $3, $4, $5, id, $6, $7, $8 FROM `+activeUser+` u RETURNING id`,
		r.Email, status, a.At, a.Action, a.EmailDigest, a.IP, a.UserAgent, a.Detail)
	b.Queue(`COMMIT`)

	return s.batch(ctx, b, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var userID int64
		var st string
		err := br.QueryRow().Scan(&userID, &st)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && st != status {
			// The writes wrote nothing and the transaction commits empty.
			return account.Errorf(account.ENOTFOUND, "No such user.")
		}
		if err != nil {
			return fmt.Errorf("find user: %w", err)
		}
		if err := br.QueryRow().Scan(&t.ID); err != nil {
			return fmt.Errorf("create reset token: %w", err)
		}
		t.UserID = userID
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("retire old reset tokens: %w", err)
		}
		if m := r.Mail; m != nil {
			if err := br.QueryRow().Scan(&m.ID); err != nil {
				return fmt.Errorf("enqueue mail: %w", err)
			}
			m.UserID = userID
		}
		if err := br.QueryRow().Scan(&a.ID); err != nil {
			return fmt.Errorf("append audit event: %w", err)
		}
		a.UserID = userID
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// LiveResetTokenUser is one statement: no transaction is needed for one
// snapshot.
func (s *Store) LiveResetTokenUser(ctx context.Context, digest []byte, now time.Time) (*account.ResetToken, *account.User, error) {
	var rt account.ResetToken
	var u account.User
	var status string
	b := &pgx.Batch{}
	b.Queue(`
		SELECT t.id, t.digest, t.user_id, t.created_at, t.expires_at, t.used_at, t.revoked_at, u.id, u.email, u.status
		FROM reset_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.digest = $1 AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > $2`, digest, now)
	err := s.batch(ctx, b, func(br pgx.BatchResults) error {
		err := br.QueryRow().Scan(append(resetTokenDest(&rt), &u.ID, &u.Email, &status)...)
		if errors.Is(err, pgx.ErrNoRows) {
			return account.Errorf(account.ENOTFOUND, account.MsgInvalidToken)
		}
		return wrap("find reset token", err)
	})
	if err != nil {
		return nil, nil, err
	}
	u.Status = account.Status(status)
	return inUTC(&rt), &u, nil
}

// batch sends b on a pooled connection outside any transaction and lets
// read take its results. If read fails while the connection is still in
// a transaction b began, the transaction is rolled back. The whole batch
// is sent again, up to a few times, after a serialization failure, a
// deadlock, or a stale pooled connection that failed before the server
// saw anything.
func (s *Store) batch(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	return s.retry(ctx, func() (err error) {
		conn, err := s.acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		br := conn.SendBatch(ctx, b)
		err = read(br)
		if cerr := br.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			rollback(ctx, conn)
			if pgconn.SafeToRetry(err) {
				return &errBegin{err}
			}
		}
		return err
	})
}

// rollback ends a transaction a failed batch left open, so the
// connection returns to the pool clean. The caller's context may be done;
// the rollback is still sent.
func rollback(ctx context.Context, conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_, _ = conn.Exec(rctx, `ROLLBACK`)
}
