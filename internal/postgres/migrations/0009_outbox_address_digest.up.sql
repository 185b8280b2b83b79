-- A finished outbox message keeps no address in clear: with its status
-- (sent, dropped) it listed who has an account for whoever reads the
-- database or a backup. It keeps only the SHA-256 of the address
-- (account.Digest), as the audit trail does.
ALTER TABLE outbox ADD COLUMN to_digest bytea;
UPDATE outbox SET to_digest = sha256(convert_to(to_addr, 'UTF8')), to_addr = ''
WHERE status <> 'pending';
