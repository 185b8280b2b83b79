package account

import (
	"context"
	"time"
)

// Store persists accounts. The SQLite and PostgreSQL stores implement it and
// run one shared conformance suite (internal/storetest). Stores only load and
// save: every rule lives in Service.
type Store interface {
	// Update runs fn in a read-write transaction and returns once the
	// transaction is durably committed, or fn's error after rolling back
	// whatever fn wrote. fn may be called again on a serialization failure,
	// so it must not have effects outside the transaction.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// ClaimMail leases up to limit outbox messages that are due at now to
	// the caller until now+lease (Tx.RenewMailLease extends it). A message
	// whose lease lapses (its claimer died mid-send) is due again, so
	// delivery is at least once.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*OutboxMessage, error)
	// Ping reports whether the store answers and its migrations are applied.
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one transaction: every role the Service needs of a store. Lookups
// return an *Error with ENOTFOUND when nothing matches; creations return
// ECONFLICT on a duplicate unique key. Any other error is a store failure.
type Tx interface {
	Organizations
	Users
	ResetTokens
	Invitations
	AuthTokens
	Counters
	Outbox
	Audit
	Maintenance
}

// Organizations stores organizations.
type Organizations interface {
	CreateOrganization(ctx context.Context, o *Organization) error // sets o.ID
	OrganizationByName(ctx context.Context, name string) (*Organization, error)
	// LockOrganization holds the organization until the transaction ends:
	// changes to its users' permissions and statuses, each preceded by it,
	// run one at a time. ENOTFOUND if there is no such organization.
	LockOrganization(ctx context.Context, id int64) error
}

// Users stores accounts. Lookups fill the user's Org. Addresses come in
// NormalizeEmail's form: stores save and match them as they are.
type Users interface {
	CountUsers(ctx context.Context) (int, error)
	CreateUser(ctx context.Context, u *User) error // sets u.ID
	UserByID(ctx context.Context, id int64) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	UserByUUID(ctx context.Context, uuid string) (*User, error)
	Users(ctx context.Context) ([]*User, error)
	SetPassword(ctx context.Context, userID int64, hash string) error
	// LegacyPasswordHashes returns the password hashes, of users of any
	// status, that are neither empty nor start with current: the hashes
	// left to replace at their next login.
	LegacyPasswordHashes(ctx context.Context, current string) ([]string, error)
	// ClearLegacyPasswords empties the password hash of every user created
	// before createdBefore whose hash is neither empty nor starts with
	// current, and returns them with only their ID and Email set.
	ClearLegacyPasswords(ctx context.Context, current string, createdBefore time.Time) ([]*User, error)
	SetStatus(ctx context.Context, userID int64, s Status) error
	// OrgUsers returns up to limit users of the organization, oldest first
	// (by ID), skipping the first offset: one query.
	OrgUsers(ctx context.Context, orgID int64, offset, limit int) ([]*User, error)
	// SetPermissions replaces the user's permission names; ENOTFOUND if no
	// such user.
	SetPermissions(ctx context.Context, userID int64, perms []string) error
	// HasActiveHolder reports whether an ACTIVE user of the organization
	// other than except holds the named permission.
	HasActiveHolder(ctx context.Context, orgID int64, perm string, except int64) (bool, error)
}

// ResetTokens stores reset tokens by the digests of their secrets.
type ResetTokens interface {
	// CreateResetToken inserts t and sets t.ID; ECONFLICT if its digest or
	// cancel digest exists, ENOTFOUND if t.UserID names no user.
	CreateResetToken(ctx context.Context, t *ResetToken) error
	// LiveResetToken returns the token with that digest if it is neither
	// used, revoked nor expired at now.
	LiveResetToken(ctx context.Context, digest []byte, now time.Time) (*ResetToken, error)
	// LiveResetTokenByCancel is LiveResetToken for the token whose
	// CancelDigest is cancelDigest.
	LiveResetTokenByCancel(ctx context.Context, cancelDigest []byte, now time.Time) (*ResetToken, error)
	// ConsumeResetToken marks the live token with that digest used at now
	// in one conditional update and returns it; ENOTFOUND if it was not
	// live.
	ConsumeResetToken(ctx context.Context, digest []byte, now time.Time) (*ResetToken, error)
	// RevokeResetTokens revokes the user's live tokens except the newest
	// keep ones and returns how many it revoked.
	RevokeResetTokens(ctx context.Context, userID int64, keep int, now time.Time) (int, error)
}

// Invitations stores invitation tokens by the digests of their secrets.
type Invitations interface {
	// CreateInvitation inserts i and sets i.ID; ECONFLICT if its digest
	// exists, ENOTFOUND if i.UserID names no user.
	CreateInvitation(ctx context.Context, i *Invitation) error
	// InvitationByDigest returns the invitation with that digest whatever
	// its state; ENOTFOUND if there is none.
	InvitationByDigest(ctx context.Context, digest []byte) (*Invitation, error)
	// ConsumeInvitation marks the invitation with that digest used at now
	// if it is neither used, revoked nor expired at now, in one conditional
	// update, and returns it; ENOTFOUND if it was not live.
	ConsumeInvitation(ctx context.Context, digest []byte, now time.Time) (*Invitation, error)
	// RenewInvitation marks the invitation with that digest renewed at now
	// if it expired unused, unrevoked and not yet renewed, in one
	// conditional update, and returns it; ENOTFOUND otherwise.
	RenewInvitation(ctx context.Context, digest []byte, now time.Time) (*Invitation, error)
	// RevokeInvitations revokes the user's live invitations except the
	// newest keep ones and returns how many it revoked.
	RevokeInvitations(ctx context.Context, userID int64, keep int, now time.Time) (int, error)
}

// AuthTokens stores login sessions' tokens by digest.
type AuthTokens interface {
	CreateAuthToken(ctx context.Context, t *AuthToken) error
	// UserByAuthToken returns the user holding the unrevoked auth token
	// with that digest if it was created after issuedAfter (older ones have
	// expired).
	UserByAuthToken(ctx context.Context, digest []byte, issuedAfter time.Time) (*User, error)
	// RevokeAuthToken revokes the one unrevoked auth token with that digest;
	// ENOTFOUND if there is none.
	RevokeAuthToken(ctx context.Context, digest []byte, now time.Time) error
	// RevokeAuthTokens revokes the user's unrevoked auth tokens except the
	// newest keep.
	RevokeAuthTokens(ctx context.Context, userID int64, keep int, now time.Time) error
	// LoggedInFrom reports whether an auth token was issued to the user
	// for that source digest after since, revoked or not.
	LoggedInFrom(ctx context.Context, userID int64, source []byte, since time.Time) (bool, error)
}

// Outbox queues mails; Store.ClaimMail hands them to the worker.
type Outbox interface {
	EnqueueMail(ctx context.Context, m *OutboxMessage) error // sets m.ID
	// RenewMailLease sets the lease of the pending messages among ids to
	// until.
	RenewMailLease(ctx context.Context, ids []int64, until time.Time) error
	// MailIDKey returns the database's key of mail Message-IDs, storing
	// fresh first if there is none: every process on the database shares
	// it.
	MailIDKey(ctx context.Context, fresh []byte) ([]byte, error)
	// RecordMailAttempt stores one delivery attempt and moves the message
	// to a.Outcome: done for MailSent, MailDropped and MailGaveUp, due
	// again at a.NextAt for MailFailed. When a.AddrDigest is set, the
	// message's address is replaced by it.
	RecordMailAttempt(ctx context.Context, a *MailAttempt) error
}

// Audit appends to the audit trail and reads it back.
type Audit interface {
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// AuditByEmail returns up to limit audit events whose EmailDigest is
	// digest, oldest first.
	AuditByEmail(ctx context.Context, digest []byte, limit int) ([]*AuditEvent, error)
}

// Maintenance purges ended rows and reads monitoring figures.
type Maintenance interface {
	// Purge deletes up to limit rows of kind that ended before before (see
	// PurgeKind) and returns how many it deleted.
	Purge(ctx context.Context, kind PurgeKind, before time.Time, limit int) (int, error)
	// Stats returns the outbox and reset-token figures of Stats at now.
	Stats(ctx context.Context, now time.Time) (Stats, error)
}

// PurgeKind names what Tx.Purge deletes.
type PurgeKind string

// Purge kinds; "ended" is the time a row stopped mattering.
const (
	PurgeResetTokens PurgeKind = "reset_tokens" // used, revoked or expired before
	PurgeInvitations PurgeKind = "invitations"  // used, revoked, renewed or expired before
	PurgeAuthTokens  PurgeKind = "auth_tokens"  // revoked before
	// Auth tokens never revoked and issued before: Service.Purge passes
	// its retention plus AuthTTL before now, so they expired a retention
	// ago.
	PurgeExpiredAuthTokens PurgeKind = "expired_auth_tokens"
	PurgeOutbox            PurgeKind = "outbox"   // finished (sent, dropped, gave up) before, with their attempts
	PurgeAudit             PurgeKind = "audit"    // recorded before
	PurgeCounters          PurgeKind = "counters" // windows that started before
)

// PurgeKinds lists every PurgeKind, in the order Service.Purge runs them.
var PurgeKinds = []PurgeKind{PurgeResetTokens, PurgeInvitations, PurgeAuthTokens, PurgeExpiredAuthTokens, PurgeOutbox, PurgeAudit, PurgeCounters}

// Stats are figures read from the store for monitoring.
type Stats struct {
	MailPending        int       // outbox messages not yet finished
	OldestPending      time.Time // creation time of the oldest of them; zero if none
	ResetTokensExpired int       // reset tokens that expired unused and are not yet purged, up to StatsCountLimit
}

// StatsCountLimit bounds the count of expired reset tokens in a store's
// Stats, so that a scrape of /metrics costs the same however many await
// the purge (docs/perf.md).
const StatsCountLimit = 100_000

// MailKind says which mail an outbox message is.
type MailKind string

// Mail kinds.
const (
	// MailReset carries a reset link. Its token is minted by the outbox
	// worker at delivery time, so the clear token never rests in the
	// database: only its digest does.
	MailReset MailKind = "reset"
	// MailPasswordChanged tells the owner that the password changed.
	MailPasswordChanged MailKind = "password_changed"
	// MailInvite carries an invitation link to a user awaiting
	// confirmation. Like a reset mail's, its token is minted at delivery.
	MailInvite MailKind = "invite"
)

// OutboxMessage is a mail waiting to be delivered.
type OutboxMessage struct {
	ID        int64
	Kind      MailKind
	To        string // the address asked for; the worker resolves the account
	UserID    int64  // 0 when the worker must resolve To
	Meta      Meta   // who asked
	CreatedAt time.Time
	Attempts  int
}

// MailOutcome is the result of one delivery attempt.
type MailOutcome string

// Mail outcomes.
const (
	MailSent    MailOutcome = "sent"
	MailFailed  MailOutcome = "failed"  // will be retried at NextAt
	MailDropped MailOutcome = "dropped" // nothing to send (no active account, limit reached)
	MailGaveUp  MailOutcome = "gave_up" // failed past the retry horizon
)

// MailAttempt is one recorded delivery attempt of an outbox message.
type MailAttempt struct {
	MessageID int64
	At        time.Time
	Outcome   MailOutcome
	Error     string // SMTP error text for MailFailed; never a secret
	NextAt    time.Time
	// AddrDigest, when set, replaces the message's address in the store:
	// Service sets it once the message is finished, so that no finished
	// message lists who has an account and who has not.
	AddrDigest []byte
}

// AuditEvent is one entry of the audit trail; it outlives token rows.
type AuditEvent struct {
	ID          int64
	At          time.Time
	Action      string
	EmailDigest []byte // SHA-256 of the normalized address, when one is concerned
	UserID      int64  // 0 when no account is concerned
	IP          string
	UserAgent   string
	Detail      string // never a secret
}

// Audit actions.
const (
	AuditResetRequested = "reset.requested"
	AuditResetMailed    = "reset.mailed"
	AuditResetCompleted = "reset.completed"
	AuditResetRevoked   = "reset.revoked"
	AuditLoginOK        = "login.succeeded"
	AuditLoginFailed    = "login.failed"
	AuditLogout         = "logout"
	AuditAdmin          = "admin"
	AuditInvited        = "invite.created"
	AuditInviteMailed   = "invite.mailed"
	AuditInviteRenewed  = "invite.renewed"
	AuditInviteAccepted = "invite.accepted"
	AuditInviteRefused  = "invite.refused"
	// AuditOrgUser is a change to a user by an organization's user through
	// the API; the detail names who (the actor's UUID) and what.
	AuditOrgUser = "org.user"
)

// OneTripStore is implemented by a store that can run the Service's
// hottest transactions in one round trip to its server (docs/perf.md).
// Each method does exactly what the Tx calls it names do in one Update or
// View; Service makes those calls itself on a store without it, and the
// conformance suite holds both to the same results.
type OneTripStore interface {
	// IssueResetToken is, in one Update: UserByEmail(r.Email), ENOTFOUND
	// with nothing written unless the user's status is r.Status; then, for
	// that user, CreateResetToken(r.Token), RevokeResetTokens(r.Keep),
	// EnqueueMail(r.Mail) when it is not nil, and AppendAudit(r.Audit). It
	// sets the UserID of the token, the mail and the audit event.
	IssueResetToken(ctx context.Context, r *ResetIssue) error
	// LiveResetTokenUser is, in one View, LiveResetToken(digest, now) and
	// UserByID of its user, of which it sets only ID, Email and Status:
	// all that a token's check needs.
	LiveResetTokenUser(ctx context.Context, digest []byte, now time.Time) (*ResetToken, *User, error)
}

// ResetIssue is a new reset token for the account of an address, and what
// its transaction records besides.
type ResetIssue struct {
	Email  string         // NormalizeEmail's form
	Status Status         // the only status the account may have
	Token  *ResetToken    // every field but ID and UserID
	Keep   int            // live tokens the account keeps, this one included
	Mail   *OutboxMessage // nil: no mail
	Audit  *AuditEvent
}
