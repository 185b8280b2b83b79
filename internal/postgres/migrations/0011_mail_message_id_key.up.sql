-- The key of mails' Message-IDs (account.messageID), one per database and
-- shared by every process on it, so that every send of one outbox message
-- carries the same Message-ID. cruxd writes it on first use
-- (account.Tx.MailIDKey).
CREATE TABLE mail_id_key (
    id  integer PRIMARY KEY CHECK (id = 1),
    key bytea   NOT NULL
);
