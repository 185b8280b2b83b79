-- `cruxd audit --email` reads the trail of one address; purge drops old rows.
CREATE INDEX audit_email_digest ON audit (email_digest, at) WHERE email_digest IS NOT NULL;
CREATE INDEX audit_at ON audit (at);
CREATE INDEX reset_tokens_expires_at ON reset_tokens (expires_at);
CREATE INDEX outbox_finished_at ON outbox (finished_at) WHERE finished_at IS NOT NULL;
