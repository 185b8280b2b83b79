-- Invitation tokens: like reset tokens, 20 random characters stored only as
-- their SHA-256 digest under a unique index, spent by one conditional
-- UPDATE. An expired invitation is renewed once (renewed_at) when its link
-- is opened; the purge drops rows that ended (used, revoked or expired)
-- before its retention, through invitations_ended.
CREATE TABLE invitations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest     bytea       NOT NULL,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz,
    renewed_at timestamptz
);
CREATE UNIQUE INDEX invitations_digest ON invitations (digest);
CREATE INDEX invitations_user_live ON invitations (user_id, expires_at)
    WHERE used_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_ended ON invitations (least(used_at, revoked_at, expires_at));
