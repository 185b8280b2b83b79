-- A login records the digest of the client's address (or IPv6 /64) with its
-- auth token: failed logins from an address that logged in to the account
-- before escape the account's hourly ceiling, so guessers elsewhere cannot
-- lock the owner out.
ALTER TABLE auth_tokens ADD COLUMN source bytea;
CREATE INDEX auth_tokens_user_source ON auth_tokens (user_id, source, created_at);
