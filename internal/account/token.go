package account

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Token formats of API.md.
//
// A reset token is 20 characters of [A-Za-z0-9]: the first 8 name the
// token's row, its id under the keyed permutation of tokenIDs, and the last
// 12 are random. The stores find a token by its id, so issuing one appends
// to the table and enters no index keyed on a random value (see
// docs/perf.md, "Round 5"). The digest stored and compared is still
// SHA-256 of all 20 characters.
//
// To anyone without the key the 8 characters are as uniform as random ones
// and say nothing of how many tokens were issued: a guess names a live
// token's row with odds live÷62⁸ and its random part with odds 62⁻¹², so
// the odds of guessing a live token stay live÷62²⁰, as for 20 random
// characters. Someone holding the key (it is stored in the database) can
// aim at one row, and faces 62¹² ≈ 2⁷¹ guesses.
const (
	ResetTokenLen    = 20
	resetIDLen       = 8                          // the row id, masked (tokenIDs)
	resetSecretLen   = ResetTokenLen - resetIDLen // 12 random characters, 71 bits
	resetAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	authTokenBytes   = 20 // 40 hex characters, 160 bits
	maxTokenInputLen = 128
)

// newResetSecret returns the random part of a reset token: 12 characters
// drawn uniformly from [A-Za-z0-9]. Bytes ≥ 248 (the largest multiple of
// 62 below 256) are rejected so that every character is equally likely.
func newResetSecret(r io.Reader) (string, error) {
	out := make([]byte, 0, resetSecretLen)
	buf := make([]byte, 32)
	for len(out) < resetSecretLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out = append(out, resetAlphabet[b%62])
			if len(out) == resetSecretLen {
				break
			}
		}
	}
	return string(out), nil
}

// resetIDSpace is the number of ids 8 characters of [A-Za-z0-9] can name:
// 62⁸ ≈ 2.2·10¹⁴.
const resetIDSpace = 218_340_105_584_896

// tokenIDs maps a reset token's row id to its first 8 characters and back:
// a keyed permutation of [0, 62⁸), so that the characters look uniform and
// sequential ids look unrelated. It is a 10-round Feistel network on 48
// bits whose round function is AES, walked along its cycle until the value
// falls below 62⁸ (1.3 steps on average): the construction of NIST's FF1
// format-preserving encryption, for one fixed length. No FF1 module is
// served to this build; the tests check the permutation's inverse and that
// its output is uniform.
type tokenIDs struct{ block cipher.Block }

// tokenIDsKeyLen is the length of the AES-256 key of tokenIDs.
const tokenIDsKeyLen = 32

func newTokenIDs(key []byte) (*tokenIDs, error) {
	if len(key) != tokenIDsKeyLen {
		return nil, fmt.Errorf("reset token id key: %d bytes, want %d", len(key), tokenIDsKeyLen)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("reset token id key: %w", err)
	}
	return &tokenIDs{b}, nil
}

const feistelRounds = 10

// round is the Feistel round function: 24 bits of AES(key, round ‖ half).
// buf is scratch space for the block, so that a walk allocates it once.
func (m *tokenIDs) round(buf []byte, i int, half uint32) uint32 {
	clear(buf)
	buf[0], buf[1], buf[2], buf[3] = byte(i), byte(half>>16), byte(half>>8), byte(half)
	m.block.Encrypt(buf, buf)
	return uint32(buf[0])<<16 | uint32(buf[1])<<8 | uint32(buf[2])
}

// permute applies the Feistel network to a 48-bit x.
func (m *tokenIDs) permute(buf []byte, x uint64) uint64 {
	l, r := uint32(x>>24), uint32(x&0xFFFFFF)
	for i := range feistelRounds {
		l, r = r, l^m.round(buf, i, r)
	}
	return uint64(l)<<24 | uint64(r)
}

// unpermute inverts permute.
func (m *tokenIDs) unpermute(buf []byte, x uint64) uint64 {
	l, r := uint32(x>>24), uint32(x&0xFFFFFF)
	for i := feistelRounds - 1; i >= 0; i-- {
		l, r = r^m.round(buf, i, l), l
	}
	return uint64(l)<<24 | uint64(r)
}

// encode returns the 8 characters naming id, 1 ≤ id < 62⁸.
func (m *tokenIDs) encode(id int64) (string, error) {
	if id < 1 || id >= resetIDSpace {
		return "", fmt.Errorf("reset token id %d out of range", id)
	}
	buf := make([]byte, aes.BlockSize)
	x := m.permute(buf, uint64(id))
	for x >= resetIDSpace {
		x = m.permute(buf, x)
	}
	var out [resetIDLen]byte
	for i := resetIDLen - 1; i >= 0; i-- {
		out[i] = resetAlphabet[x%62]
		x /= 62
	}
	return string(out[:]), nil
}

// decode returns the id that the first 8 characters of a well-formed token
// name; false if they name none.
func (m *tokenIDs) decode(token string) (int64, bool) {
	if len(token) < resetIDLen {
		return 0, false
	}
	var x uint64
	for i := range resetIDLen {
		c := strings.IndexByte(resetAlphabet, token[i])
		if c < 0 {
			return 0, false
		}
		x = x*62 + uint64(c)
	}
	buf := make([]byte, aes.BlockSize)
	x = m.unpermute(buf, x)
	for x >= resetIDSpace {
		x = m.unpermute(buf, x)
	}
	return int64(x), x >= 1
}

// newAuthToken returns 40 lower-case hex characters.
func newAuthToken(r io.Reader) (string, error) {
	b := make([]byte, authTokenBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Digest returns the SHA-256 digest under which a token is stored.
func Digest(token string) []byte {
	d := sha256.Sum256([]byte(token))
	return d[:]
}

// wellFormedResetToken reports whether s could be a reset token. It only
// bounds the work done for junk input; liveness is decided by the store.
func wellFormedResetToken(s string) bool {
	if len(s) != ResetTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// wellFormedAuthToken reports whether s could be an auth token.
func wellFormedAuthToken(s string) bool {
	if len(s) != 2*authTokenBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// sameDigest compares two digests in constant time.
func sameDigest(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
