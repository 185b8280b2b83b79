package password

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// A failed login must not tell which kind of hash the account has, or
// whether it has one: a wrong password against an imported PBKDF2 hash
// costs several times one against argon2id. So every failed login spends
// one verification of each cost present among the stored hashes (PBKDF2 up
// to the most iterations present, its cost being linear in them), the
// account's own verification counting as one of them. A successful login
// spends only its own.

// CurrentPrefix returns how every hash Hash makes with h.Params begins:
// the stored hashes that do not begin so are legacy, replaced at the next
// login.
func (h *Hasher) CurrentPrefix() string {
	p := h.params()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$", argon2.Version, p.Memory, p.Time, p.Threads)
}

// hashCost is what verifying one hash costs, as its scheme and parameters
// fix it.
type hashCost struct {
	scheme string // SchemeArgon2id, SchemePBKDF2 or SchemeBcrypt
	params Params // argon2id: Memory, Time, Threads, KeyLen
	n      int    // pbkdf2_sha256: iterations; bcrypt: cost
}

// costOf returns the cost of verifying encoded; false for a hash Verify
// refuses, which costs nothing.
func (h *Hasher) costOf(encoded string) (hashCost, bool) {
	if h.CheckHash(encoded) != nil {
		return hashCost{}, false
	}
	switch Scheme(encoded) {
	case SchemeArgon2id:
		a, _ := parseArgon2id(h.lim(), encoded)
		return hashCost{scheme: SchemeArgon2id, params: Params{Memory: a.memory, Time: a.time, Threads: a.threads, KeyLen: uint32(len(a.key))}}, true
	case SchemePBKDF2:
		n, _ := strconv.Atoi(strings.Split(encoded, "$")[1])
		return hashCost{scheme: SchemePBKDF2, n: n}, true
	default:
		n, _ := strconv.Atoi(encoded[4:6])
		return hashCost{scheme: SchemeBcrypt, n: n}, true
	}
}

// FailureCost returns what a failed login spends when the store holds, as
// well as hashes with h.Params, the hashes stored; hashes Verify refuses
// count for nothing. Call the result after Verify(plain, own) failed, with
// own "" when no hash was verified (unknown user): it verifies plain against
// a hash of every cost present but own's, so that the failure costs the same
// whatever the account's hash. With no stored hash of another cost, a failed
// login costs one argon2id verification, as a login for an unknown user
// always did.
func (h *Hasher) FailureCost(stored []string) func(plain, own string) {
	f := h.failurePlan(stored)
	return func(plain, own string) {
		mine, _ := h.costOf(own)
		for _, c := range f.dummies(mine) {
			h.verifyDummy(plain, c)
		}
	}
}

// failurePlan is the work of a failed login: one verification of each
// cost in costs, and PBKDF2 with maxIter iterations (0: none).
type failurePlan struct {
	costs   []hashCost
	maxIter int
}

func (h *Hasher) failurePlan(stored []string) *failurePlan {
	p := h.params()
	f := &failurePlan{costs: []hashCost{{scheme: SchemeArgon2id, params: Params{Memory: p.Memory, Time: p.Time, Threads: p.Threads, KeyLen: p.KeyLen}}}}
	for _, s := range stored {
		c, ok := h.costOf(s)
		switch {
		case !ok:
		case c.scheme == SchemePBKDF2:
			f.maxIter = max(f.maxIter, c.n)
		case !slices.Contains(f.costs, c):
			f.costs = append(f.costs, c)
		}
	}
	return f
}

// dummies returns the verifications left to do after one of cost mine
// (zero when none was done) failed.
func (f *failurePlan) dummies(mine hashCost) []hashCost {
	var out []hashCost
	for _, c := range f.costs {
		if c != mine {
			out = append(out, c)
		}
	}
	n := f.maxIter
	if mine.scheme == SchemePBKDF2 {
		n -= mine.n // own's iterations were spent already
	}
	if n > 0 {
		out = append(out, hashCost{scheme: SchemePBKDF2, n: n})
	}
	return out
}

// verifyDummy spends what Verify spends on a hash of cost c, on a hash no
// password matches, and returns Verify's error (nil: the work was done).
func (h *Hasher) verifyDummy(plain string, c hashCost) error {
	var encoded string
	switch c.scheme {
	case SchemeArgon2id:
		p := c.params
		encoded = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
			b64.EncodeToString(make([]byte, minSaltLen*2)), b64.EncodeToString(make([]byte, p.KeyLen)))
	case SchemePBKDF2:
		encoded = fmt.Sprintf("pbkdf2_sha256$%d$dummysalt$%s", c.n, base64.StdEncoding.EncodeToString(make([]byte, sha256.Size)))
	case SchemeBcrypt:
		encoded = fmt.Sprintf("$2b$%02d$%s", c.n, strings.Repeat(".", 53))
	}
	_, _, err := h.Verify(plain, encoded)
	return err
}
