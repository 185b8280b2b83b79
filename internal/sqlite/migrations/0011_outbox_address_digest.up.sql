-- A finished outbox message keeps no address in clear: with its status
-- (sent, dropped) it listed who has an account for whoever reads the file
-- or a backup. It keeps only the SHA-256 of the address (account.Digest),
-- as the audit trail does. Messages finished before this migration had
-- their address cleared with no digest: SQLite has no SHA-256 to compute it.
ALTER TABLE outbox ADD COLUMN to_digest BLOB;
UPDATE outbox SET to_addr = '' WHERE status <> 'pending';
