// Package storetest is the conformance suite every account.Store runs: the
// SQLite and PostgreSQL stores call Run from their tests.
//
// The suite uses fixed times (a fake clock, never sleeps) with millisecond
// precision, so a store may keep times at microsecond resolution.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
)

// Inspector is implemented by stores that can list what they recorded. When
// the store under test implements it, the suite also checks the recorded
// mail attempts and the audit trail; otherwise those checks are skipped.
type Inspector interface {
	// MailAttempts returns a message's attempts, oldest first.
	MailAttempts(ctx context.Context, messageID int64) ([]*account.MailAttempt, error)
	// OutboxAddress returns a message's address as stored and the digest
	// that replaced it.
	OutboxAddress(ctx context.Context, messageID int64) (addr string, digest []byte, err error)
	// AuditEvents returns up to limit events with an ID above afterID,
	// oldest first.
	AuditEvents(ctx context.Context, afterID int64, limit int) ([]*account.AuditEvent, error)
}

// Run runs the suite, one subtest per behaviour. open must return an empty,
// migrated store for the calling test and close it with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) account.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, account.Store)
	}{
		{"Ping", testPing},
		{"Update/Commits", testUpdateCommits},
		{"Update/RollsBackOnError", testUpdateRollsBack},
		{"Update/CancelledContext", testUpdateCancelled},
		{"Update/Concurrent", testUpdateConcurrent},
		{"View/SeesCommitted", testViewSeesCommitted},
		{"View/ReadOnly", testViewReadOnly},
		{"Organization/CreateAndFind", testOrgCreateAndFind},
		{"Organization/NotFound", testOrgNotFound},
		{"Organization/Conflict", testOrgConflict},
		{"Organization/Lock", testLockOrganization},
		{"Organization/HasActiveHolder", testHasActiveHolder},
		{"Organization/UsersPages", testOrgUsersPages},
		{"User/CreateAndFind", testUserCreateAndFind},
		{"User/NotFound", testUserNotFound},
		{"User/Conflict", testUserConflict},
		{"User/UnknownOrganization", testUserUnknownOrg},
		{"User/SetPasswordAndStatus", testUserSetters},
		{"User/SetPermissions", testSetPermissions},
		{"User/ListAndCount", testUsersList},
		{"User/LegacyPasswords", testLegacyPasswords},
		{"ResetToken/CreateAndLive", testResetCreateAndLive},
		{"ResetToken/Conflict", testResetConflict},
		{"ResetToken/ByCancel", testResetByCancel},
		{"ResetToken/LiveHonoursState", testResetLiveState},
		{"ResetToken/ConsumeOnce", testResetConsumeOnce},
		{"ResetToken/ConsumeNotLive", testResetConsumeNotLive},
		{"ResetToken/ConsumeConcurrent", testResetConsumeConcurrent},
		{"ResetToken/RevokeKeepsNewest", testResetRevokeKeep},
		{"ResetToken/RevokeAll", testResetRevokeAll},
		{"Invitation/CreateAndFind", testInvitationCreateAndFind},
		{"Invitation/ConsumeOnce", testInvitationConsume},
		{"Invitation/ConsumeConcurrent", testInvitationConsumeConcurrent},
		{"Invitation/RenewOnce", testInvitationRenew},
		{"Invitation/Purge", testInvitationPurge},
		{"AuthToken/CreateFindRevoke", testAuthTokens},
		{"AuthToken/RevokeKeepsNewest", testAuthTokensKeepNewest},
		{"Counter/ReserveReleaseClear", testCounters},
		{"Counter/ReserveConcurrent", testCounterConcurrent},
		{"Counter/RolledBackReserve", testCounterRollback},
		{"Mail/EnqueueAndClaim", testMailEnqueueClaim},
		{"Mail/LeaseHonoured", testMailLease},
		{"Mail/LeaseRenewed", testMailLeaseRenewed},
		{"Mail/ConcurrentClaimers", testMailConcurrentClaim},
		{"Mail/Finished", testMailFinished},
		{"Mail/FailedRetries", testMailFailed},
		{"Mail/UnknownMessage", testMailUnknown},
		{"Audit/Append", testAudit},
		{"Audit/ByEmail", testAuditByEmail},
		{"Purge/EndedRowsOnly", testPurge},
		{"Stats", testStats},
		{"Mail/IDKeyStoredOnce", testMailIDKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// t0 is the fake clock's "now"; other times are offsets from it.
var t0 = time.Date(2030, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

const (
	minute = time.Minute
	hour   = time.Hour
)

func at(d time.Duration) time.Time { return t0.Add(d) }

var errBoom = errors.New("storetest: fn failed on purpose")

func update(t *testing.T, s account.Store, fn func(account.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s account.Store, fn func(account.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// wantCode fails the test unless err carries the error code want.
func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := account.ErrorCode(err); got != want {
		t.Errorf("%s: error code %q (err %v), want %q", what, got, err, want)
	}
}

// fixture creates organizations and users.
type fixture struct {
	t *testing.T
	s account.Store
}

func newFixture(t *testing.T, s account.Store) *fixture { return &fixture{t: t, s: s} }

// uuid returns a random version 4 UUID.
func (f *fixture) uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (f *fixture) org(name string, typ account.OrgType) *account.Organization {
	f.t.Helper()
	o := &account.Organization{UUID: f.uuid(), Name: name, Type: typ, CreatedAt: at(-time.Hour)}
	update(f.t, f.s, func(tx account.Tx) error { return tx.CreateOrganization(context.Background(), o) })
	return o
}

func (f *fixture) user(o *account.Organization, email string) *account.User {
	f.t.Helper()
	u := f.newUser(o, email)
	update(f.t, f.s, func(tx account.Tx) error { return tx.CreateUser(context.Background(), u) })
	return u
}

// colleagues returns two users of one organization.
func (f *fixture) colleagues() (u, v *account.User) {
	o := f.org("Crux Supplier", account.Supplier)
	return f.user(o, "rbreslawski@cruxsupplier.com"), f.user(o, "other@cruxsupplier.com")
}

func (f *fixture) newUser(o *account.Organization, email string) *account.User {
	return &account.User{
		UUID: f.uuid(), PersonUUID: f.uuid(), OrgID: o.ID, Org: o, Email: email,
		FirstName: "Roy", LastName: "Breslawski", Phone: "+1 555 0100", JobTitle: "Buyer",
		Status: account.StatusActive, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Permissions: []string{account.PermViewOrgUsers, account.PermEditOrgUsers},
		CreatedAt:   at(-30 * time.Minute),
	}
}

// sameOrg reports how got differs from want.
func sameOrg(t *testing.T, what string, got, want *account.Organization) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: organization is nil", what)
		return
	}
	if got.ID != want.ID || got.UUID != want.UUID || got.Name != want.Name || got.Type != want.Type ||
		!got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s: organization\n got %+v\nwant %+v", what, *got, *want)
	}
}

// sameUser checks every field of got, Org included.
func sameUser(t *testing.T, what string, got, want *account.User) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: user is nil", what)
		return
	}
	g, w := *got, *want
	g.Org, w.Org = nil, nil
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if len(g.Permissions) == 0 && len(w.Permissions) == 0 {
		g.Permissions, w.Permissions = nil, nil
	}
	if g.ID != w.ID || g.UUID != w.UUID || g.PersonUUID != w.PersonUUID || g.OrgID != w.OrgID ||
		g.Email != w.Email || g.FirstName != w.FirstName || g.LastName != w.LastName || g.Phone != w.Phone ||
		g.JobTitle != w.JobTitle || g.Status != w.Status || g.PasswordHash != w.PasswordHash ||
		!slices.Equal(g.Permissions, w.Permissions) {
		t.Errorf("%s: user\n got %+v\nwant %+v", what, g, w)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s: CreatedAt %v, want %v", what, got.CreatedAt, want.CreatedAt)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("%s: CreatedAt in %v, want UTC", what, got.CreatedAt.Location())
	}
	sameOrg(t, what+": Org", got.Org, want.Org)
}

func testPing(t *testing.T, s account.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
