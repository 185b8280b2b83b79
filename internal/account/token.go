package account

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// Token formats of API.md.
//
// A reset token is 20 characters drawn uniformly from [A-Za-z0-9] by
// crypto/rand, ~119 bits. The stores keep only its SHA-256 digest under a
// unique index: Validate finds the token by its digest, and Create New
// Password spends it with one conditional UPDATE on that digest.
const (
	ResetTokenLen    = 20
	resetAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	authTokenBytes   = 20 // 40 hex characters, 160 bits
	maxTokenInputLen = 128
)

// newResetToken returns a reset token: ResetTokenLen characters drawn
// uniformly from [A-Za-z0-9]. Bytes ≥ 248 (the largest multiple of 62
// below 256) are rejected so that every character is equally likely.
func newResetToken(r io.Reader) (string, error) {
	out := make([]byte, 0, ResetTokenLen)
	buf := make([]byte, 32)
	for len(out) < ResetTokenLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out = append(out, resetAlphabet[b%62])
			if len(out) == ResetTokenLen {
				break
			}
		}
	}
	return string(out), nil
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
