// Package password hashes and verifies passwords and checks new ones against
// cruxd's password policy (NIST SP 800-63B-4, single-factor).
//
// New hashes are argon2id in PHC string form. Verify also accepts the legacy
// formats accounts may be imported with (Django pbkdf2_sha256 and bcrypt) and
// reports when a hash should be replaced. Hashes made here are computed over
// the NFKC form of the password, so the same password typed on keyboards that
// produce composed or decomposed characters verifies the same way.
package password

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

var (
	// ErrUnknownFormat: the stored hash is in no format Verify knows.
	ErrUnknownFormat = errors.New("unknown password hash format")
	// ErrMalformed: the stored hash has a known format but cannot be used,
	// including when its cost parameters exceed the limits Verify accepts.
	ErrMalformed = errors.New("malformed password hash")
	// ErrInvalidParams: Params cannot produce a sound or verifiable hash.
	ErrInvalidParams = errors.New("invalid argon2id parameters")
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams is OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// limits bound the cost of verifying a stored hash, so that a hostile or
// corrupt hash cannot make a login allocate gigabytes or spin for minutes.
type limits struct {
	maxMemory     uint32 // argon2id KiB
	maxTime       uint32 // argon2id passes
	maxThreads    uint8  // argon2id lanes
	maxPBKDF2Iter int    // Django 6.0 uses 1,200,000
	maxBcryptCost int    // cost 14 takes about a second
}

var defaultLimits = limits{
	maxMemory:     256 << 10, // 256 MiB
	maxTime:       10,
	maxThreads:    16,
	maxPBKDF2Iter: 2_000_000,
	maxBcryptCost: 14,
}

// Salt and key lengths accepted in argon2id hashes, in bytes. RFC 9106 asks
// for salts of at least 8 bytes; keys shorter than 16 would make chance
// matches plausible.
const (
	minSaltLen, maxSaltLen = 8, 64
	minKeyLen, maxKeyLen   = 16, 64
)

// Hasher hashes and verifies passwords. The zero value uses DefaultParams and
// crypto/rand. A Hasher is safe for concurrent use; do not copy it after use.
type Hasher struct {
	Params Params    // zero means DefaultParams
	Rand   io.Reader // salt source; nil means crypto/rand.Reader

	limits *limits // nil means defaultLimits; tests and fuzzing lower them

	mu          sync.Mutex
	dummy       string // argon2id hash with dummyParams, for VerifyDummy
	dummyParams Params
}

// NewHasher returns a Hasher using p, with its VerifyDummy hash ready
// (precomputed for DefaultParams, computed here for other parameters). It
// returns an error wrapping ErrInvalidParams if p is unusable.
func NewHasher(p Params) (*Hasher, error) {
	h := &Hasher{Params: p}
	if err := h.lim().check(p); err != nil {
		return nil, err
	}
	h.dummyHash()
	return h, nil
}

func (h *Hasher) params() Params {
	if h.Params == (Params{}) {
		return DefaultParams
	}
	return h.Params
}

func (h *Hasher) lim() *limits {
	if h.limits == nil {
		return &defaultLimits
	}
	return h.limits
}

// check reports whether p makes hashes that Verify, under l, accepts.
func (l *limits) check(p Params) error {
	switch {
	case p.Time < 1 || p.Time > l.maxTime:
		return fmt.Errorf("%w: time %d not in [1, %d]", ErrInvalidParams, p.Time, l.maxTime)
	case p.Threads < 1 || p.Threads > l.maxThreads:
		return fmt.Errorf("%w: threads %d not in [1, %d]", ErrInvalidParams, p.Threads, l.maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > l.maxMemory:
		return fmt.Errorf("%w: memory %d KiB not in [8*threads, %d]", ErrInvalidParams, p.Memory, l.maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: salt length %d not in [%d, %d]", ErrInvalidParams, p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: key length %d not in [%d, %d]", ErrInvalidParams, p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Hash returns the argon2id PHC string of the NFKC form of plain, e.g.
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>" (unpadded standard base64).
// It returns an error wrapping ErrInvalidParams if h.Params is unusable, or
// the error of the random source.
func (h *Hasher) Hash(plain string) (string, error) {
	p := h.params()
	if err := h.lim().check(p); err != nil {
		return "", err
	}
	r := h.Rand
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	return encodeArgon2id(p, salt, norm.NFKC.String(plain)), nil
}

// Verify reports whether plain matches the stored hash encoded, and whether
// the hash should be replaced by Hash(plain): rehash is true when ok and the
// hash is not argon2id with exactly h.Params. It accepts:
//
//   - argon2id PHC strings, v=19, with m ≤ 256 MiB, t ≤ 10, p ≤ 16;
//   - Django "pbkdf2_sha256$<iterations>$<salt>$<base64 key>", ≤ 2,000,000 iterations;
//   - bcrypt "$2a$", "$2b$" and "$2y$", cost ≤ 14.
//
// A wrong password is ok == false with a nil error. A hash in no known format
// returns an error wrapping ErrUnknownFormat; a hash that cannot be parsed, or
// whose cost exceeds those limits, an error wrapping ErrMalformed. Errors
// never contain the password or the hash's salt or key.
func (h *Hasher) Verify(plain, encoded string) (ok, rehash bool, err error) {
	switch Scheme(encoded) {
	case SchemeArgon2id:
		var same bool
		ok, same, err = h.verifyArgon2id(plain, encoded)
		return ok, ok && !same, err
	case SchemePBKDF2:
		ok, err = verifyDjangoPBKDF2(h.lim(), plain, encoded)
		return ok, ok, err
	case SchemeBcrypt:
		ok, err = verifyBcrypt(h.lim(), plain, encoded)
		return ok, ok, err
	}
	return false, false, ErrUnknownFormat
}

// VerifyDummy spends the time Verify spends on an argon2id hash with h.Params,
// and discards the result, so that a login for an unknown account takes as
// long as one for a known account. The hash it verifies against is computed
// on first use (NewHasher computes it up front) and again if h.Params change.
func (h *Hasher) VerifyDummy(plain string) {
	_, _, _ = h.Verify(plain, h.dummyHash())
}

func (h *Hasher) dummyHash() string {
	p := h.params()
	if h.lim().check(p) != nil {
		p = DefaultParams // Hash refuses p, so no real hash uses it
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dummy == "" || h.dummyParams != p {
		if p == DefaultParams {
			h.dummy = defaultDummyHash
		} else {
			// A fixed salt: the hash only has to cost the same, not be secret.
			salt := make([]byte, p.SaltLen)
			h.dummy = encodeArgon2id(p, salt, dummyPassword)
		}
		h.dummyParams = p
	}
	return h.dummy
}

// dummyPassword is what the VerifyDummy hash is a hash of.
const dummyPassword = "cruxd dummy password"

// defaultDummyHash is encodeArgon2id(DefaultParams, 16 zero bytes,
// dummyPassword), precomputed: computing it would cost every start a hash
// and leave its argon2 memory in an idle process (TestDefaultDummyHash
// checks it).
const defaultDummyHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$DnNso1LuDc7jKPuuvupRu0vwjO8pGfwlMkxg+5oB7RA"

func encodeArgon2id(p Params, salt []byte, plain string) string {
	key := argon2.IDKey([]byte(plain), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}
