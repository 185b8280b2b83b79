-- RevokeResetTokens and LiveResetToken's user filter the unspent tokens on
-- expires_at too. reset_tokens_user_live lacked it, so with many expired
-- tokens a user's revoke read the heap row of each of them. Holding every
-- column the query reads, the index answers it alone (index-only scan once
-- the visibility map is set) and growth no longer slows Reset Password.
DROP INDEX reset_tokens_user_live;
CREATE INDEX reset_tokens_user_live ON reset_tokens (user_id, created_at DESC, id DESC)
    INCLUDE (expires_at) WHERE used_at IS NULL AND revoked_at IS NULL;
