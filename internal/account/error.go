package account

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to exactly one HTTP status in internal/httpapi and to
// one exit message in the CLI; nothing else decides how a failure is shown.
const (
	EINVALID       = "invalid"       // malformed input or a refused password
	EUNAUTHORIZED  = "unauthorized"  // missing or bad credentials
	EFORBIDDEN     = "forbidden"     // authenticated but not allowed
	ENOTFOUND      = "not_found"     // no such thing, or not live
	ECONFLICT      = "conflict"      // already exists
	EUNPROCESSABLE = "unprocessable" // well-formed but not acceptable (sandbox unknown e-mail)
	ETHROTTLED     = "throttled"     // a rate limit was hit
	EUNAVAILABLE   = "unavailable"   // overloaded or a dependency is down; retry later
	EINTERNAL      = "internal"      // a bug or an unexpected failure
)

// Error is the domain error: a code, a message safe to show to the caller, and
// optionally the request field it concerns and when to retry.
type Error struct {
	Code       string
	Field      string        // request field the message is about, if any
	Message    string        // safe to show; never contains a secret
	RetryAfter time.Duration // for ETHROTTLED and EUNAVAILABLE
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("cruxd %s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("cruxd %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID-class error about one request field.
func FieldError(code, field, message string) *Error {
	return &Error{Code: code, Field: field, Message: message}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// Messages shown for the errors callers meet most; kept here so every entry
// point (HTTP, CLI, pages) says the same thing.
const (
	MsgInvalidToken       = "Invalid or expired token."
	MsgBadCredentials     = "Unable to log in with provided credentials."
	MsgInvalidAuthToken   = "Invalid token."
	MsgNoActiveAccount    = "No active account uses this e-mail address."
	MsgResetLinkSent      = "If an active account uses this e-mail address, a password reset link has been sent to it."
	MsgOverloaded         = "The server is busy. Try again shortly."
	MsgStoreUnavailable   = "The service is temporarily unavailable. Try again shortly."
	MsgPermissionDenied   = "You do not have permission to perform this action."
	MsgNotFound           = "Not found."
	MsgInvalidEmail       = "Enter a valid email address."
	MsgFieldRequired      = "This field is required."
	MsgNotAString         = "Not a valid string."
	MsgUserAlreadyExists  = "A user with this e-mail address already exists."
	MsgOrgAlreadyExists   = "An organization with this name already exists."
	msgThrottledTemplate  = "Request was throttled. Expected available in %d seconds."
	msgUnavailableRetryIn = 1 * time.Second
)

// Throttled returns the ETHROTTLED error for a limit that frees up after d.
func Throttled(d time.Duration) *Error {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &Error{Code: ETHROTTLED, Message: fmt.Sprintf(msgThrottledTemplate, secs), RetryAfter: time.Duration(secs) * time.Second}
}

// ErrOverloaded is returned when too many password hashes are queued.
var ErrOverloaded = &Error{Code: EUNAVAILABLE, Message: MsgOverloaded, RetryAfter: msgUnavailableRetryIn}

// Unavailable wraps a store failure that is worth retrying (the database is
// down or timed out) so callers see EUNAVAILABLE rather than EINTERNAL. The
// cause stays in the chain for logs and errors.Is.
func Unavailable(cause error) error {
	return &causedError{
		err:   &Error{Code: EUNAVAILABLE, Message: MsgStoreUnavailable, RetryAfter: msgUnavailableRetryIn},
		cause: cause,
	}
}

// causedError is an *Error that keeps the lower-level error that caused it.
type causedError struct {
	err   *Error
	cause error
}

func (c *causedError) Error() string { return c.err.Error() + ": " + c.cause.Error() }
func (c *causedError) Unwrap() error { return c.cause }
func (c *causedError) As(target any) bool {
	if t, ok := target.(**Error); ok {
		*t = c.err
		return true
	}
	return false
}
