-- Fewer index pages written per Reset Password, and a purge that never scans.
--
-- reset_tokens_user_id served only foreign-key checks of deleted users, and
-- users are never deleted; reset_tokens_unspent leads with user_id for the
-- queries. Each reset wrote one random page of it.
DROP INDEX reset_tokens_user_id;
-- Purge deleted by "used_at < ? OR revoked_at < ? OR expires_at < ?": only
-- expires_at was indexed, so SQLite scanned the table, and the last batch of
-- every purge read every remaining row while holding the write lock. The
-- time a token ended, as one indexed expression (PostgreSQL's
-- reset_tokens_ended), makes every batch a range search. Both are written
-- once per reset.
DROP INDEX reset_tokens_expires_at;
CREATE INDEX reset_tokens_ended ON reset_tokens
	(min(expires_at, ifnull(used_at, expires_at), ifnull(revoked_at, expires_at)));
