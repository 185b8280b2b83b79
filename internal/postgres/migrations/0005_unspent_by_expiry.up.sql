-- RevokeResetTokens reads a user's live tokens: unspent (the index's WHERE)
-- and not yet expired. Led by (user_id, created_at), the index made it read
-- every expired entry the user still had; led by (user_id, expires_at), a
-- search goes straight to the live ones (SQLite's migration 7 measures the
-- difference).
DROP INDEX reset_tokens_user_live;
CREATE INDEX reset_tokens_user_live ON reset_tokens (user_id, expires_at)
    INCLUDE (created_at, id) WHERE used_at IS NULL AND revoked_at IS NULL;
