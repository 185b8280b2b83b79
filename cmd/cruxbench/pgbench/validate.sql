-- Validate Password Reset as cruxd sent it statement by statement (captured
-- with log_statement=all): one round trip each, in one REPEATABLE READ READ
-- ONLY transaction. Run it on a database cruxbench loaded, with as many
-- clients as cruxd's pool (--pool-size, 10 by default):
--
--   pgbench -n -M prepared -c 10 -j 2 -T 10 -D tokens=10000 \
--       -f cmd/cruxbench/pgbench/validate.sql 'postgres://…/cruxbench_…'
--
-- `cruxbench pgbench` stores the live tokens it reads: token i (0 ≤ i <
-- tokens) is i in 20 digits, of user<i>@bench.cruxd.test. cruxd computes the
-- digest that the script asks of sha256().
\set i random(0, :tokens - 1)
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT id, digest, user_id AS uid, created_at, expires_at, used_at, revoked_at FROM reset_tokens
WHERE digest = sha256(convert_to(lpad(:i::text, 20, '0'), 'UTF8')) AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
\gset
SELECT u.id, u.uuid, u.person_uuid, u.org_id, u.email, u.first_name, u.last_name, u.phone,
	u.job_title, u.status, u.password_hash, u.permissions, u.created_at,
	o.id, o.uuid, o.name, o.type, o.created_at
FROM users u JOIN organizations o ON o.id = u.org_id WHERE u.id = :uid;
COMMIT;
