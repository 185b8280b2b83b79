-- A reset token is 20 random characters; Validate and Create New Password
-- find it by its SHA-256 digest through a unique index. Every row's digest
-- is stored already, the ones of tokens that named their row (migration 6)
-- and the older ones alike, so every live token keeps working. The key
-- that named rows and the second lookup path for older tokens go.
CREATE UNIQUE INDEX reset_tokens_digest ON reset_tokens (digest);
DROP INDEX reset_tokens_legacy_digest;
ALTER TABLE reset_tokens DROP COLUMN legacy;
DROP TABLE secrets;
