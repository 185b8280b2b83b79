-- Sandbox Reset Password as cruxd sent it statement by statement (captured
-- with log_statement=all): one round trip each, in one READ COMMITTED
-- transaction. Run it on a database cruxbench loaded, with as many clients
-- as cruxd's pool (--pool-size, 10 by default):
--
--   pgbench -n -M prepared -c 10 -j 2 -T 10 -D lo=10000 -D hi=100000 \
--       -f cmd/cruxbench/pgbench/reset.sql 'postgres://…/cruxbench_…'
--
-- lo and hi bound the users (user<i>@bench.cruxd.test) it resets, as
-- `cruxbench pgbench` does; cruxd computes the digests that the script asks
-- of sha256(), from a random 63-bit number here.
\set i random(:lo, :hi - 1)
\set r random(0, 9223372036854775806)
BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE;
SELECT u.id AS uid, u.uuid, u.person_uuid, u.org_id, u.email, u.first_name, u.last_name, u.phone,
	u.job_title, u.status, u.password_hash, u.permissions, u.created_at,
	o.id AS oid, o.uuid AS ouuid, o.name, o.type, o.created_at AS ocreated_at
FROM users u JOIN organizations o ON o.id = u.org_id WHERE u.email = 'user' || :i || '@bench.cruxd.test'
\gset
INSERT INTO reset_tokens (digest, cancel_digest, user_id, created_at, expires_at, used_at, revoked_at)
VALUES (sha256(int8send(:r)), NULL, :uid, now(), now() + interval '2 hours', NULL, NULL)
ON CONFLICT DO NOTHING
RETURNING id;
SELECT id FROM users WHERE id = :uid FOR NO KEY UPDATE;
UPDATE reset_tokens SET revoked_at = now()
WHERE user_id = :uid AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
AND id NOT IN (
	SELECT id FROM reset_tokens
	WHERE user_id = :uid AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
	ORDER BY created_at DESC, id DESC LIMIT 3);
INSERT INTO audit (at, action, email_digest, user_id, ip, user_agent, detail)
VALUES (now(), 'reset.requested', sha256(convert_to(:email, 'UTF8')), :uid, '127.0.0.1', 'pgbench', '') RETURNING id;
COMMIT;
