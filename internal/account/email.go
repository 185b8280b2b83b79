package account

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

const maxEmailLen = 254 // RFC 5321 path limit

// NormalizeEmail trims spaces and lower-cases an address, and returns an
// EINVALID field error for the "email" field when it is not a plain
// addr-spec. Control characters, line breaks and display names are refused,
// so an address can never inject a mail header.
func NormalizeEmail(field, raw string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", FieldError(EINVALID, field, MsgInvalidEmail)
	}
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" {
		return "", FieldError(EINVALID, field, MsgFieldRequired)
	}
	if len(e) > maxEmailLen || strings.IndexFunc(e, notPrintable) >= 0 {
		return "", FieldError(EINVALID, field, MsgInvalidEmail)
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", FieldError(EINVALID, field, MsgInvalidEmail)
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " \"\\<>()[],;:") {
		return "", FieldError(EINVALID, field, MsgInvalidEmail)
	}
	return e, nil
}

// notPrintable also refuses U+FFFD: JSON decoding puts it where the request
// had a lone surrogate escape, and no real address contains it.
func notPrintable(r rune) bool {
	return unicode.IsControl(r) || unicode.IsSpace(r) || !unicode.IsPrint(r) || r == utf8.RuneError
}
