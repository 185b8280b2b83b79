// Package account is cruxd's domain: organizations, users, reset and auth
// tokens, and the Service that owns every rule about them. It imports no other
// package of the project; stores, mailers and transports plug into the
// interfaces declared here.
package account

import (
	"slices"
	"time"
)

// OrgType is the kind of an organization.
type OrgType string

// Organization types of the Crux API.
const (
	Retailer OrgType = "RETAILER"
	Supplier OrgType = "SUPPLIER"
)

// Valid reports whether t is a known organization type.
func (t OrgType) Valid() bool { return t == Retailer || t == Supplier }

// Status is a user's account status.
type Status string

// User statuses of the Crux API. Only ACTIVE users may log in or reset.
const (
	StatusWaiting     Status = "CONFIRMATION WAITING"
	StatusActive      Status = "ACTIVE"
	StatusDeactivated Status = "DEACTIVATED"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusWaiting || s == StatusActive || s == StatusDeactivated
}

// Organization is a retailer or a supplier; users belong to exactly one.
type Organization struct {
	ID        int64
	UUID      string
	Name      string
	Type      OrgType
	CreatedAt time.Time
}

// User is a person's account. PasswordHash is a PHC or legacy hash string,
// never a password.
type User struct {
	ID           int64
	UUID         string
	PersonUUID   string
	OrgID        int64
	Email        string // normalized: trimmed and lower-case
	FirstName    string
	LastName     string
	Phone        string
	JobTitle     string
	Status       Status
	PasswordHash string // "" when no password was ever set
	Permissions  []string
	CreatedAt    time.Time

	// Org is filled by the store's user lookups.
	Org *Organization
}

// Can reports whether the user holds the named permission.
func (u *User) Can(permission string) bool { return slices.Contains(u.Permissions, permission) }

// ResetToken is a password-reset token at rest: only its SHA-256 digest.
type ResetToken struct {
	ID     int64
	Digest []byte
	// CancelDigest is the digest of the token of the mail's "this wasn't
	// me" link, which can only cancel; nil when no mail carries the token.
	CancelDigest []byte
	UserID       int64
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       *time.Time
	RevokedAt    *time.Time
}

// AuthToken is a login session token at rest: only its digest.
type AuthToken struct {
	Digest    []byte
	UserID    int64
	CreatedAt time.Time
	Source    []byte // digest of the client's address it was issued to
}

// Meta describes who made a request, for the audit trail, mails and the
// per-client limits.
type Meta struct {
	IP        string
	UserAgent string
	// Client is the key per-client limits count the request under: the
	// address, or the network an IPv6 address belongs to. Empty: IP.
	Client string
}

// client returns the key per-client limits count m under.
func (m Meta) client() string {
	if m.Client != "" {
		return m.Client
	}
	return m.IP
}
