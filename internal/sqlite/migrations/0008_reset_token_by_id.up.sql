-- A reset token names its row: its first characters are the row id under a
-- keyed permutation (account.tokenIDs), so Validate and Create New Password
-- find the row by id and compare the stored digest. New rows then enter no
-- index keyed on a random value: with 10M tokens, each reset had written
-- one random leaf of the UNIQUE digest index, read from disk, added to the
-- WAL and copied by the checkpoint.
--
-- SQLite cannot drop the UNIQUE constraint's index, so the table is
-- rebuilt (90 s for 10M rows on the machine of docs/perf.md). The tokens
-- still live at the upgrade name no row: their rows are marked legacy, and
-- they stay valid through reset_tokens_legacy_digest until they end. Rows
-- that had ended already are never looked up again, so they stay out of
-- that index.
CREATE TABLE reset_tokens_v8 (
	id         INTEGER PRIMARY KEY,
	digest     BLOB    NOT NULL,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER,
	revoked_at INTEGER,
	legacy     INTEGER NOT NULL DEFAULT 0 CHECK (legacy IN (0, 1))
) STRICT;
INSERT INTO reset_tokens_v8 (id, digest, user_id, created_at, expires_at, used_at, revoked_at, legacy)
	SELECT id, digest, user_id, created_at, expires_at, used_at, revoked_at,
		used_at IS NULL AND revoked_at IS NULL
			AND expires_at > CAST((julianday('now') - 2440587.5) * 86400e9 AS INTEGER)
	FROM reset_tokens ORDER BY id;
DROP TABLE reset_tokens;
ALTER TABLE reset_tokens_v8 RENAME TO reset_tokens;
CREATE UNIQUE INDEX reset_tokens_legacy_digest ON reset_tokens (digest) WHERE legacy = 1;
CREATE INDEX reset_tokens_unspent ON reset_tokens (user_id, expires_at, created_at, id, used_at, revoked_at)
	WHERE used_at IS NULL AND revoked_at IS NULL;
CREATE INDEX reset_tokens_ended ON reset_tokens
	(min(expires_at, ifnull(used_at, expires_at), ifnull(revoked_at, expires_at)));

-- Keys every process on the database shares (account.Tx.Secret): the key
-- that masks reset token ids.
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT, WITHOUT ROWID;
