-- No query finds audit events by user id (the admin CLI reads them by
-- address digest or by id), so audit_user only cost an index insert on
-- every audited request.
DROP INDEX IF EXISTS audit_user;
