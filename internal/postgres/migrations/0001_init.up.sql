-- The schema of cruxd on PostgreSQL; it mirrors the SQLite store's.

CREATE TABLE organizations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid       text        NOT NULL UNIQUE,
    name       text        NOT NULL UNIQUE,
    type       text        NOT NULL CHECK (type IN ('RETAILER', 'SUPPLIER')),
    created_at timestamptz NOT NULL
);

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid          text        NOT NULL UNIQUE,
    person_uuid   text        NOT NULL UNIQUE,
    org_id        bigint      NOT NULL REFERENCES organizations (id),
    email         text        NOT NULL UNIQUE, -- normalized by the service
    first_name    text        NOT NULL DEFAULT '',
    last_name     text        NOT NULL DEFAULT '',
    phone         text        NOT NULL DEFAULT '',
    job_title     text        NOT NULL DEFAULT '',
    status        text        NOT NULL CHECK (status IN ('CONFIRMATION WAITING', 'ACTIVE', 'DEACTIVATED')),
    password_hash text        NOT NULL DEFAULT '',
    permissions   text[]      NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL
);

CREATE INDEX users_org_id ON users (org_id);

-- Reset tokens are stored only as SHA-256 digests.
CREATE TABLE reset_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest     bytea       NOT NULL UNIQUE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);

CREATE INDEX reset_tokens_user_live ON reset_tokens (user_id, created_at DESC, id DESC)
    WHERE used_at IS NULL AND revoked_at IS NULL;

-- Auth tokens are stored only as digests.
CREATE TABLE auth_tokens (
    digest     bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE INDEX auth_tokens_user_live ON auth_tokens (user_id) WHERE revoked_at IS NULL;

-- Fixed-window rate-limit counters, shared by every cruxd process.
CREATE TABLE counters (
    key          text        NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer     NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- Mails waiting to be delivered. A pending message is due at due_at unless a
-- process holds its lease (lease_until in the future).
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text        NOT NULL,
    to_addr     text        NOT NULL,
    user_id     bigint, -- NULL when the worker resolves to_addr
    meta        jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    status      text        NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'sent', 'dropped', 'gave_up')),
    due_at      timestamptz NOT NULL,
    lease_until timestamptz,
    attempts    integer     NOT NULL DEFAULT 0,
    finished_at timestamptz
);

CREATE INDEX outbox_due ON outbox (due_at, id) WHERE status = 'pending';

CREATE TABLE mail_attempts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id bigint      NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    outcome    text        NOT NULL CHECK (outcome IN ('sent', 'failed', 'dropped', 'gave_up')),
    error      text        NOT NULL DEFAULT '',
    next_at    timestamptz
);

CREATE INDEX mail_attempts_message ON mail_attempts (message_id);

-- The audit trail outlives users and tokens, so it has no foreign keys.
CREATE TABLE audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL,
    action       text        NOT NULL,
    email_digest bytea,
    user_id      bigint,
    ip           text        NOT NULL DEFAULT '',
    user_agent   text        NOT NULL DEFAULT '',
    detail       text        NOT NULL DEFAULT ''
);

CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_user ON audit (user_id) WHERE user_id IS NOT NULL;
