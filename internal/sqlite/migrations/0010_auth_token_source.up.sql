-- A login records the digest of the client's address (or IPv6 /64) with its
-- auth token: failed logins from an address that logged in to the account
-- before escape the account's hourly ceiling, so guessers elsewhere cannot
-- lock the owner out. The index answers "has this source logged in to this
-- user" and still finds a user's tokens by user_id.
ALTER TABLE auth_tokens ADD COLUMN source BLOB;
CREATE INDEX auth_tokens_user_source ON auth_tokens (user_id, source, created_at);
DROP INDEX auth_tokens_user_id;
