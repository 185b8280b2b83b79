-- Every Reset Password and login appends an audit event; its e-mail index
-- (migration 2) was one more random page written per event, a sixth of the
-- WAL a reset writes. Only `cruxd audit --email` read it: it now scans the
-- trail on a read connection, which never holds up the writer.
DROP INDEX audit_email_digest;
