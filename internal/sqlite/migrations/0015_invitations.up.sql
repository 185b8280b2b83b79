-- Invitation tokens: like reset tokens, 20 random characters stored only as
-- their SHA-256 digest under a unique index, spent by one conditional
-- UPDATE. An expired invitation is renewed once (renewed_at) when its link
-- is opened; the purge drops rows that ended (used, revoked or expired)
-- before its retention, through invitations_ended.
CREATE TABLE invitations (
	id         INTEGER PRIMARY KEY,
	digest     BLOB    NOT NULL,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER,
	revoked_at INTEGER,
	renewed_at INTEGER
) STRICT;
CREATE UNIQUE INDEX invitations_digest ON invitations (digest);
CREATE INDEX invitations_unspent ON invitations (user_id, expires_at, created_at, id, used_at, revoked_at)
	WHERE used_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_ended ON invitations
	(min(expires_at, ifnull(used_at, expires_at), ifnull(revoked_at, expires_at)));
