-- Indexes for purging ended rows and for reading an address's audit trail.

CREATE INDEX audit_email_digest ON audit (email_digest, at, id) WHERE email_digest IS NOT NULL;
CREATE INDEX reset_tokens_ended ON reset_tokens (least(used_at, revoked_at, expires_at));
CREATE INDEX auth_tokens_revoked ON auth_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status <> 'pending';
CREATE INDEX counters_window_start ON counters (window_start);
