package password

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// CheckHash reports whether Verify could ever accept encoded, without
// computing it: nil for a well-formed argon2id, Django pbkdf2_sha256 or
// bcrypt hash within Verify's cost limits; an error wrapping
// ErrUnknownFormat or ErrMalformed otherwise, with the same rules as Verify.
// It is cheap enough to check every row of an import.
func (h *Hasher) CheckHash(encoded string) error {
	l := h.lim()
	switch Scheme(encoded) {
	case SchemeArgon2id:
		_, err := parseArgon2id(l, encoded)
		return err
	case SchemePBKDF2:
		return checkDjangoPBKDF2(l, encoded)
	case SchemeBcrypt:
		return checkBcrypt(l, encoded)
	}
	return ErrUnknownFormat
}

// checkDjangoPBKDF2 applies verifyDjangoPBKDF2's format rules.
func checkDjangoPBKDF2(l *limits, encoded string) error {
	f := strings.Split(encoded, "$")
	if len(f) != 4 {
		return fmt.Errorf("%w: pbkdf2_sha256: want 4 $-separated fields", ErrMalformed)
	}
	iter, err := strconv.Atoi(f[1])
	if err != nil || f[1][0] == '+' || f[1][0] == '-' {
		return fmt.Errorf("%w: pbkdf2_sha256: iterations are not a number", ErrMalformed)
	}
	if iter < 1 || iter > l.maxPBKDF2Iter {
		return fmt.Errorf("%w: pbkdf2_sha256: %d iterations not in [1, %d]", ErrMalformed, iter, l.maxPBKDF2Iter)
	}
	if f[2] == "" || len(f[2]) > 128 {
		return fmt.Errorf("%w: pbkdf2_sha256: salt length not in [1, 128]", ErrMalformed)
	}
	if key, err := base64.StdEncoding.Strict().DecodeString(f[3]); err != nil || len(key) != sha256.Size {
		return fmt.Errorf("%w: pbkdf2_sha256: key is not 32 bytes of base64", ErrMalformed)
	}
	return nil
}

// checkBcrypt applies verifyBcrypt's format rules.
func checkBcrypt(l *limits, encoded string) error {
	switch {
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
	default:
		return fmt.Errorf("%w: only bcrypt $2a$, $2b$ and $2y$ are supported", ErrUnknownFormat)
	}
	if len(encoded) != 60 || encoded[6] != '$' {
		return fmt.Errorf("%w: bcrypt: want $2?$<cost>$ and 53 characters", ErrMalformed)
	}
	cost, err := strconv.Atoi(encoded[4:6])
	if err != nil || encoded[4] < '0' || encoded[4] > '9' {
		return fmt.Errorf("%w: bcrypt: cost is not a number", ErrMalformed)
	}
	if cost < bcrypt.MinCost || cost > l.maxBcryptCost {
		return fmt.Errorf("%w: bcrypt: cost %d not in [%d, %d]", ErrMalformed, cost, bcrypt.MinCost, l.maxBcryptCost)
	}
	for i := 7; i < len(encoded); i++ {
		if !isBcryptBase64(encoded[i]) {
			return fmt.Errorf("%w: bcrypt: salt or hash is not bcrypt base64", ErrMalformed)
		}
	}
	return nil
}
