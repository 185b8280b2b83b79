package password

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Length bounds of the policy, in code points after NFKC normalisation.
const (
	DefaultMinLength = 15  // NIST SP 800-63B-4 for single-factor passwords
	SandboxMinLength = 8   // sandbox's default: the Crux docs' example passwords are shorter than 15
	FloorMinLength   = 8   // no Policy accepts fewer
	DefaultMaxLength = 256 // and none accepts more than this by default
)

// DefaultMinLengthFor is the minimum length when none is configured:
// SandboxMinLength in sandbox, where the documented examples must work,
// DefaultMinLength everywhere else.
func DefaultMinLengthFor(sandbox bool) int {
	if sandbox {
		return SandboxMinLength
	}
	return DefaultMinLength
}

// Reasons a password is refused; a *PolicyError wraps exactly one of them.
var (
	ErrInvalidText   = errors.New("password is not valid UTF-8")
	ErrTooShort      = errors.New("password too short")
	ErrTooLong       = errors.New("password too long")
	ErrCommon        = errors.New("password too common")
	ErrSameAsEmail   = errors.New("password too similar to the e-mail address")
	ErrGuessable     = errors.New("password too easy to guess")
	ErrInvalidPolicy = errors.New("invalid password policy")
)

// PolicyError is a password refused by a Policy. Reason is a sentence for the
// person who chose the password; it never contains the password.
type PolicyError struct {
	Reason string
	Err    error // one of ErrInvalidText, ErrTooShort, ErrTooLong, ErrCommon, ErrSameAsEmail, ErrGuessable
}

// Error returns the Reason.
func (e *PolicyError) Error() string { return e.Reason }

// Unwrap returns the sentinel naming the rule the password broke.
func (e *PolicyError) Unwrap() error { return e.Err }

// Policy is the rule for new passwords (NIST SP 800-63B-4, single-factor):
// a length range counted in code points after NFKC, not a common password,
// not the account's e-mail address or its local part, and not easy to guess
// (repetitive or sequential strings, keyboard walks, common words with
// digits). No composition rules.
// A zero field means its default; MinLength is never taken below 8.
type Policy struct {
	MinLength int // default 15, never below 8
	MaxLength int // default 256
	MinScore  int // least strength score (0 to 4) accepted: default DefaultMinScore, never below SandboxMinScore
}

// Strength scores a Policy accepts at least.
const (
	DefaultMinScore = 3
	// SandboxMinScore is sandbox's: the Crux docs' example password
	// "thanosrocks" scores 2.
	SandboxMinScore = 2
)

// PolicyFor returns the policy of a mode: at least min code points (0:
// DefaultMinLengthFor(sandbox)), and in sandbox also the strength score
// SandboxMinScore, so that the documented examples work there. Errors as
// NewPolicy.
func PolicyFor(sandbox bool, min int) (Policy, error) {
	if min == 0 {
		min = DefaultMinLengthFor(sandbox)
	}
	p, err := NewPolicy(min)
	if sandbox {
		p.MinScore = SandboxMinScore
	}
	return p, err
}

// NewPolicy returns a Policy requiring at least min code points and at most
// DefaultMaxLength. It returns an error wrapping ErrInvalidPolicy if min is
// below FloorMinLength or above DefaultMaxLength.
func NewPolicy(min int) (Policy, error) {
	if min < FloorMinLength || min > DefaultMaxLength {
		return Policy{}, fmt.Errorf("%w: minimum length %d not in [%d, %d]", ErrInvalidPolicy, min, FloorMinLength, DefaultMaxLength)
	}
	return Policy{MinLength: min, MaxLength: DefaultMaxLength}, nil
}

func (p Policy) bounds() (lo, hi int) {
	lo, hi = p.MinLength, p.MaxLength
	if lo == 0 {
		lo = DefaultMinLength
	}
	lo = max(lo, FloorMinLength)
	if hi == 0 {
		hi = DefaultMaxLength
	}
	return lo, max(hi, lo)
}

// Check returns nil if password may be set on the account with the given
// e-mail address (which may be empty), else a *PolicyError whose Reason says
// why and which wraps ErrInvalidText, ErrTooShort, ErrTooLong, ErrCommon,
// ErrSameAsEmail or ErrGuessable. Rules are checked in that order; the first
// broken one wins.
func (p Policy) Check(password, email string) error {
	if !utf8.ValidString(password) {
		return &PolicyError{"This password contains characters that are not valid text.", ErrInvalidText}
	}
	pw := norm.NFKC.String(password)
	lo, hi := p.bounds()
	switch n := utf8.RuneCountInString(pw); {
	case n < lo:
		return &PolicyError{fmt.Sprintf("This password is too short. It must contain at least %d characters.", lo), ErrTooShort}
	case n > hi:
		return &PolicyError{fmt.Sprintf("This password is too long. It must contain at most %d characters.", hi), ErrTooLong}
	}
	key := strings.ToLower(pw)
	if isCommon(key) {
		return &PolicyError{"This password is too common.", ErrCommon}
	}
	if sameAsEmail(strings.TrimSpace(key), email) {
		return &PolicyError{"This password is too similar to the email address.", ErrSameAsEmail}
	}
	score := p.MinScore
	if score == 0 {
		score = DefaultMinScore
	}
	if reason := guessable(pw, email, max(score, SandboxMinScore)); reason != "" {
		return &PolicyError{reason, ErrGuessable}
	}
	return nil
}

// sameAsEmail reports whether key (NFKC, lower case) is the address or its
// local part, compared the same way.
func sameAsEmail(key, email string) bool {
	for _, e := range emailKeys(email) {
		if key == e {
			return true
		}
	}
	return false
}

// emailKeys returns the address and its local part (when it has one), NFKC
// and lower case, or nothing for an empty address.
func emailKeys(email string) []string {
	e := strings.ToLower(norm.NFKC.String(strings.TrimSpace(email)))
	if e == "" {
		return nil
	}
	if at := strings.LastIndexByte(e, '@'); at > 0 {
		return []string{e, e[:at]}
	}
	return []string{e}
}
