package password

import "strings"

// Hash schemes Verify reads, as Scheme names them.
const (
	SchemeArgon2id = "argon2id"
	SchemePBKDF2   = "pbkdf2_sha256" // Django's
	SchemeBcrypt   = "bcrypt"
)

// Scheme names the scheme of a stored hash from its prefix alone, without
// checking the rest: SchemeArgon2id, SchemePBKDF2, SchemeBcrypt, or "" when
// it is none of them.
func Scheme(encoded string) string {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return SchemeArgon2id
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return SchemePBKDF2
	case strings.HasPrefix(encoded, "$2"):
		return SchemeBcrypt
	}
	return ""
}
