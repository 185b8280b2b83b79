package mail

// SessionMails is sessionMails, for the tests.
const SessionMails = sessionMails
