package password

import (
	"slices"
	"strings"
	"testing"
)

// TestFailurePlan: after any failed verification (or none, for an unknown
// user) a failed login has spent the same work: one verification of each
// cost present, PBKDF2 up to the most iterations present; with only
// current hashes, one argon2id verification, as before.
func TestFailurePlan(t *testing.T) {
	h := &Hasher{Params: cheap}
	cur := mustHash(t, h, "current password")
	other := "$argon2id$v=19$m=128,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + strings.Repeat("A", 43)
	pb := func(iter string) string {
		return "pbkdf2_sha256$" + iter + "$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	}
	bc := "$2b$04$" + strings.Repeat(".", 53)
	for _, c := range []struct {
		name   string
		stored []string
	}{
		{"only current hashes", nil},
		{"PBKDF2 at two counts, bcrypt, another argon2id", []string{pb("600000"), pb("260000"), bc, other, "junk", pb("0")}},
	} {
		f := h.failurePlan(c.stored)
		// The work of each failure, as argon2id/bcrypt costs and PBKDF2
		// iterations summed.
		work := func(own string) (costs []hashCost, iter int) {
			spent := f.dummies(hashCost{})
			if own != "" {
				mine, _ := h.costOf(own)
				spent = append(f.dummies(mine), mine)
			}
			for _, s := range spent {
				if s.scheme == SchemePBKDF2 {
					iter += s.n
				} else {
					costs = append(costs, s)
				}
			}
			slices.SortFunc(costs, func(a, b hashCost) int {
				return strings.Compare(a.scheme, b.scheme) + int(a.params.Memory) - int(b.params.Memory)
			})
			return costs, iter
		}
		wantCosts, wantIter := work("")
		if c.stored == nil && (len(wantCosts) != 1 || wantIter != 0) {
			t.Errorf("%s: an unknown user spends %v and %d PBKDF2 iterations; want one argon2id", c.name, wantCosts, wantIter)
		}
		owns := []string{cur}
		owns = append(owns, c.stored...)
		for _, own := range owns {
			if h.CheckHash(own) != nil {
				continue
			}
			if gotCosts, gotIter := work(own); !slices.Equal(gotCosts, wantCosts) || gotIter != wantIter {
				t.Errorf("%s: a failure against %.20s… spends %v and %d iterations; an unknown user %v and %d",
					c.name, own, gotCosts, gotIter, wantCosts, wantIter)
			}
		}
	}
}

// TestVerifyDummyCosts: every dummy verification does the work of its
// scheme (Verify accepts the dummy hash) and never matches.
func TestVerifyDummyCosts(t *testing.T) {
	h := &Hasher{Params: cheap}
	for _, c := range []hashCost{
		{scheme: SchemeArgon2id, params: Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}},
		{scheme: SchemePBKDF2, n: 1000},
		{scheme: SchemeBcrypt, n: 4},
	} {
		if err := h.verifyDummy("", c); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	spend := h.FailureCost([]string{"pbkdf2_sha256$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
	spend("wrong", "")
	spend("wrong", mustHash(t, h, "x"))
}

// TestCurrentPrefix: hashes made with the current parameters start with
// CurrentPrefix; others do not.
func TestCurrentPrefix(t *testing.T) {
	h := &Hasher{Params: cheap}
	if enc := mustHash(t, h, "x"); !strings.HasPrefix(enc, h.CurrentPrefix()) {
		t.Errorf("%s does not start with %s", enc, h.CurrentPrefix())
	}
	if enc := mustHash(t, &Hasher{}, "x"); strings.HasPrefix(enc, h.CurrentPrefix()) {
		t.Errorf("a DefaultParams hash %s starts with the cheap prefix %s", enc, h.CurrentPrefix())
	}
}
