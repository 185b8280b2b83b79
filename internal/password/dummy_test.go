package password

import "testing"

// TestDefaultDummyHash checks the precomputed VerifyDummy hash of
// DefaultParams against a fresh computation.
func TestDefaultDummyHash(t *testing.T) {
	p := DefaultParams
	if got := encodeArgon2id(p, make([]byte, p.SaltLen), dummyPassword); got != defaultDummyHash {
		t.Fatalf("defaultDummyHash is stale:\n got %s\nwant %s", defaultDummyHash, got)
	}
	h, err := NewHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(dummyPassword, h.dummyHash()); !ok || err != nil {
		t.Fatalf("dummy hash does not verify: %v %v", ok, err)
	}
}
