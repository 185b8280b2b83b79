-- A login revokes its user's oldest auth tokens past the cap of live ones:
-- this index finds the user's unrevoked tokens, newest first, without
-- reading the revoked ones that await the purge.
CREATE INDEX auth_tokens_user_live ON auth_tokens (user_id, created_at) WHERE revoked_at IS NULL;
