-- Expired auth tokens (never revoked, issued more than the auth TTL ago)
-- were never purged, so the table grew with every login; purge now deletes
-- them by issue time.
CREATE INDEX auth_tokens_unrevoked ON auth_tokens (created_at) WHERE revoked_at IS NULL;
