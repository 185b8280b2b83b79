-- Purge deleted revoked auth tokens by "revoked_at < ?" with no index on
-- revoked_at: every batch scanned the table while holding the write lock,
-- and the last one read every row. Expired tokens (never revoked, issued
-- more than the auth TTL ago) were never purged, so the table grew with
-- every login. One partial index for each kind makes both range searches.
-- A login appends to auth_tokens_unrevoked; a logout moves its token from
-- one to the other.
CREATE INDEX auth_tokens_revoked ON auth_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX auth_tokens_unrevoked ON auth_tokens (created_at) WHERE revoked_at IS NULL;
