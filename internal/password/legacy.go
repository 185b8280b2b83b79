package password

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// verifyDjangoPBKDF2 checks Django's "pbkdf2_sha256$<iterations>$<salt>$<key>":
// PBKDF2-HMAC-SHA256 over the UTF-8 password and the salt's bytes as written,
// a 32-byte key in padded standard base64 (django.contrib.auth.hashers).
func verifyDjangoPBKDF2(l *limits, plain, encoded string) (bool, error) {
	f := strings.Split(encoded, "$")
	if len(f) != 4 {
		return false, fmt.Errorf("%w: pbkdf2_sha256: want 4 $-separated fields", ErrMalformed)
	}
	iter, err := strconv.Atoi(f[1])
	if err != nil || f[1][0] == '+' || f[1][0] == '-' {
		return false, fmt.Errorf("%w: pbkdf2_sha256: iterations are not a number", ErrMalformed)
	}
	if iter < 1 || iter > l.maxPBKDF2Iter {
		return false, fmt.Errorf("%w: pbkdf2_sha256: %d iterations not in [1, %d]", ErrMalformed, iter, l.maxPBKDF2Iter)
	}
	salt := f[2]
	if salt == "" || len(salt) > 128 {
		return false, fmt.Errorf("%w: pbkdf2_sha256: salt length not in [1, 128]", ErrMalformed)
	}
	want, err := base64.StdEncoding.Strict().DecodeString(f[3])
	if err != nil || len(want) != sha256.Size {
		return false, fmt.Errorf("%w: pbkdf2_sha256: key is not 32 bytes of base64", ErrMalformed)
	}
	got, err := pbkdf2.Key(sha256.New, plain, []byte(salt), iter, sha256.Size)
	if err != nil {
		return false, fmt.Errorf("%w: pbkdf2_sha256: %v", ErrMalformed, err)
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// verifyBcrypt checks "$2a$", "$2b$" and "$2y$" bcrypt hashes, all with the
// one correct algorithm (what $2b$ and $2y$ name, and what OpenBSD and most
// libraries wrote as $2a$); x/crypto/bcrypt is handed "$2a$". Not supported:
// "$2x$" (the old crypt_blowfish sign-extension bug) and the different
// result crypt_blowfish's $2a$ gives for the rare 8-bit passwords that bug
// affected. As in every bcrypt, only the first 72 bytes of the password count.
func verifyBcrypt(l *limits, plain, encoded string) (bool, error) {
	switch {
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
	default:
		return false, fmt.Errorf("%w: only bcrypt $2a$, $2b$ and $2y$ are supported", ErrUnknownFormat)
	}
	// "$2?$" + 2-digit cost + "$" + 22 salt + 31 hash characters.
	if len(encoded) != 60 || encoded[6] != '$' {
		return false, fmt.Errorf("%w: bcrypt: want $2?$<cost>$ and 53 characters", ErrMalformed)
	}
	cost, err := strconv.Atoi(encoded[4:6])
	if err != nil || encoded[4] < '0' || encoded[4] > '9' {
		return false, fmt.Errorf("%w: bcrypt: cost is not a number", ErrMalformed)
	}
	if cost < bcrypt.MinCost || cost > l.maxBcryptCost {
		return false, fmt.Errorf("%w: bcrypt: cost %d not in [%d, %d]", ErrMalformed, cost, bcrypt.MinCost, l.maxBcryptCost)
	}
	for i := 7; i < len(encoded); i++ {
		if !isBcryptBase64(encoded[i]) {
			return false, fmt.Errorf("%w: bcrypt: salt or hash is not bcrypt base64", ErrMalformed)
		}
	}
	err = bcrypt.CompareHashAndPassword([]byte("$2a"+encoded[3:]), []byte(plain))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, fmt.Errorf("%w: bcrypt: %v", ErrMalformed, err)
}

// isBcryptBase64 reports whether c is in bcrypt's alphabet "./A-Za-z0-9".
func isBcryptBase64(c byte) bool {
	return c == '.' || c == '/' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}
