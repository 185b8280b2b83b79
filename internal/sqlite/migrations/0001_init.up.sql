-- Times are INTEGER Unix nanoseconds, UTC.

CREATE TABLE organizations (
	id         INTEGER PRIMARY KEY,
	uuid       TEXT    NOT NULL UNIQUE,
	name       TEXT    NOT NULL UNIQUE,
	type       TEXT    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	uuid          TEXT    NOT NULL UNIQUE,
	person_uuid   TEXT    NOT NULL,
	org_id        INTEGER NOT NULL REFERENCES organizations (id),
	email         TEXT    NOT NULL UNIQUE, -- normalized: trimmed, lower-case
	first_name    TEXT    NOT NULL DEFAULT '',
	last_name     TEXT    NOT NULL DEFAULT '',
	phone         TEXT    NOT NULL DEFAULT '',
	job_title     TEXT    NOT NULL DEFAULT '',
	status        TEXT    NOT NULL,
	password_hash TEXT    NOT NULL DEFAULT '',
	permissions   TEXT    NOT NULL DEFAULT '', -- comma-separated names
	created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX users_org_id ON users (org_id);

CREATE TABLE reset_tokens (
	id         INTEGER PRIMARY KEY,
	digest     BLOB    NOT NULL UNIQUE,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER,
	revoked_at INTEGER
) STRICT;

CREATE INDEX reset_tokens_user_id ON reset_tokens (user_id);

-- The tokens not yet used or revoked, newest last: RevokeResetTokens reads
-- only these, however many spent tokens a user piled up.
CREATE INDEX reset_tokens_unspent ON reset_tokens (user_id, created_at, id)
	WHERE used_at IS NULL AND revoked_at IS NULL;

CREATE TABLE auth_tokens (
	digest     BLOB    PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id),
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;

CREATE INDEX auth_tokens_user_id ON auth_tokens (user_id);

CREATE TABLE counters (
	key          TEXT    NOT NULL,
	window_start INTEGER NOT NULL,
	count        INTEGER NOT NULL,
	PRIMARY KEY (key, window_start)
) STRICT, WITHOUT ROWID;

CREATE INDEX counters_window_start ON counters (window_start);

CREATE TABLE outbox (
	id          INTEGER PRIMARY KEY,
	kind        TEXT    NOT NULL,
	to_addr     TEXT    NOT NULL,
	user_id     INTEGER, -- no foreign key: NULL until the worker resolves to_addr
	meta        TEXT    NOT NULL DEFAULT '{}', -- JSON: {"ip": ..., "user_agent": ...}
	created_at  INTEGER NOT NULL,
	due_at      INTEGER NOT NULL,
	lease_until INTEGER,
	attempts    INTEGER NOT NULL DEFAULT 0,
	status      TEXT    NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'sent', 'dropped', 'gave_up')),
	finished_at INTEGER
) STRICT;

CREATE INDEX outbox_status_due_at ON outbox (status, due_at);

CREATE TABLE mail_attempts (
	id         INTEGER PRIMARY KEY,
	message_id INTEGER NOT NULL REFERENCES outbox (id),
	at         INTEGER NOT NULL,
	outcome    TEXT    NOT NULL CHECK (outcome IN ('sent', 'failed', 'dropped', 'gave_up')),
	error      TEXT    NOT NULL DEFAULT '',
	next_at    INTEGER
) STRICT;

CREATE INDEX mail_attempts_message_id ON mail_attempts (message_id);

-- The audit trail outlives users and tokens: user_id is no foreign key.
CREATE TABLE audit (
	id           INTEGER PRIMARY KEY,
	at           INTEGER NOT NULL,
	action       TEXT    NOT NULL,
	email_digest BLOB,
	user_id      INTEGER,
	ip           TEXT    NOT NULL DEFAULT '',
	user_agent   TEXT    NOT NULL DEFAULT '',
	detail       TEXT    NOT NULL DEFAULT ''
) STRICT;
