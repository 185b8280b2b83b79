-- A reset token names its row: its first characters are the row id under a
-- keyed permutation (account.tokenIDs), so Validate and Create New Password
-- find the row by id and compare the stored digest, and a new row enters
-- no index keyed on a random value (SQLite's migration 8 measures the
-- difference). The tokens still live at the upgrade name no row: their
-- rows are marked legacy (found through reset_tokens_ended), and they stay
-- valid through reset_tokens_legacy_digest until they end. Adding a column
-- with a constant default rewrites no row.
ALTER TABLE reset_tokens ADD COLUMN legacy boolean NOT NULL DEFAULT false;
UPDATE reset_tokens SET legacy = true
    WHERE least(used_at, revoked_at, expires_at) > now() AND used_at IS NULL AND revoked_at IS NULL;
CREATE UNIQUE INDEX reset_tokens_legacy_digest ON reset_tokens (digest) WHERE legacy;
ALTER TABLE reset_tokens DROP CONSTRAINT reset_tokens_digest_key;

-- Keys every process on the database shares (account.Tx.Secret): the key
-- that masks reset token ids.
CREATE TABLE secrets (
    name  text  PRIMARY KEY,
    value bytea NOT NULL
);
