package password

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

// argon2idHash is a parsed argon2id PHC string.
type argon2idHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// verifyArgon2id reports whether plain matches encoded and whether encoded
// uses exactly h's params.
func (h *Hasher) verifyArgon2id(plain, encoded string) (ok, same bool, err error) {
	a, err := parseArgon2id(h.lim(), encoded)
	if err != nil {
		return false, false, err
	}
	p := h.params()
	same = a.memory == p.Memory && a.time == p.Time && a.threads == p.Threads &&
		len(a.salt) == int(p.SaltLen) && len(a.key) == int(p.KeyLen)

	nfkc := norm.NFKC.String(plain)
	ok = a.matches(nfkc)
	if !ok && nfkc != plain {
		// A hash imported from a system that did not normalise.
		ok = a.matches(plain)
	}
	return ok, same, nil
}

func (a *argon2idHash) matches(plain string) bool {
	key := argon2.IDKey([]byte(plain), a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
	return subtle.ConstantTimeCompare(key, a.key) == 1
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$key" and checks
// every field against l before anything is allocated for it.
func parseArgon2id(l *limits, encoded string) (*argon2idHash, error) {
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return nil, fmt.Errorf("%w: argon2id: want 5 $-separated fields", ErrMalformed)
	}
	if f[2] != "v=19" {
		return nil, fmt.Errorf("%w: argon2id: only version 19 is supported", ErrMalformed)
	}
	ps := strings.Split(f[3], ",")
	if len(ps) != 3 {
		return nil, fmt.Errorf("%w: argon2id: want parameters m, t, p", ErrMalformed)
	}
	m, err1 := phcUint(ps[0], "m=")
	t, err2 := phcUint(ps[1], "t=")
	p, err3 := phcUint(ps[2], "p=")
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("%w: argon2id: parameters are not m=<int>,t=<int>,p=<int>", ErrMalformed)
	}
	switch {
	case t < 1 || t > uint64(l.maxTime):
		return nil, fmt.Errorf("%w: argon2id: t=%d not in [1, %d]", ErrMalformed, t, l.maxTime)
	case p < 1 || p > uint64(l.maxThreads):
		return nil, fmt.Errorf("%w: argon2id: p=%d not in [1, %d]", ErrMalformed, p, l.maxThreads)
	case m < 8*p || m > uint64(l.maxMemory):
		return nil, fmt.Errorf("%w: argon2id: m=%d not in [8*p, %d]", ErrMalformed, m, l.maxMemory)
	}
	salt, err := b64Bounded(f[4], minSaltLen, maxSaltLen)
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id: salt: %v", ErrMalformed, err)
	}
	key, err := b64Bounded(f[5], minKeyLen, maxKeyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id: key: %v", ErrMalformed, err)
	}
	return &argon2idHash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// phcUint parses prefix followed by a decimal without sign or leading zeros.
func phcUint(s, prefix string) (uint64, error) {
	d, ok := strings.CutPrefix(s, prefix)
	if !ok || d == "" || (len(d) > 1 && d[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseUint(d, 10, 32)
}

// b64Bounded decodes unpadded standard base64 of between lo and hi bytes.
// The text's length bounds what decoding allocates; the decoded length is
// checked too, since the decoder skips '\r' and '\n' (a key of newlines
// alone decodes to nothing, and argon2 panics on a zero-length key).
func b64Bounded(s string, lo, hi int) ([]byte, error) {
	errLen := fmt.Errorf("length not in [%d, %d] bytes", lo, hi)
	if len(s) < b64.EncodedLen(lo) || len(s) > b64.EncodedLen(hi) {
		return nil, errLen
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("not unpadded standard base64")
	}
	if len(b) < lo || len(b) > hi {
		return nil, errLen
	}
	return b, nil
}
