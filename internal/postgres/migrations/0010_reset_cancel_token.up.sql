-- The "this wasn't me" link of a reset mail carries a token of its own,
-- which can only cancel: its SHA-256 digest is kept next to the reset
-- token's. Rows issued without a mail (sandbox's answer, an
-- administrator's link) have none. Adding a nullable column rewrites no
-- row.
ALTER TABLE reset_tokens ADD COLUMN cancel_digest bytea;
CREATE UNIQUE INDEX reset_tokens_cancel_digest ON reset_tokens (cancel_digest) WHERE cancel_digest IS NOT NULL;
