package account

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// chiSquareUniform returns the chi-square statistic of counts against 62
// equally likely symbols.
func chiSquareUniform(counts map[byte]int) float64 {
	n := 0
	for _, c := range counts {
		n += c
	}
	want := float64(n) / 62
	chi := 0.0
	for i := range len(resetAlphabet) {
		chi += math.Pow(float64(counts[resetAlphabet[i]])-want, 2) / want
	}
	return chi
}

// The chi-square tests have 61 degrees of freedom; 110 is beyond the
// 0.9999 quantile, so a correct generator fails one test in 10,000.
const chiSquareLimit = 110

// TestResetSecretUniform draws 100,008 characters of random parts and
// checks each of the 62 symbols is about equally likely.
func TestResetSecretUniform(t *testing.T) {
	counts := map[byte]int{}
	for n := 0; n < 100_000; n += resetSecretLen {
		s, err := newResetSecret(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != resetSecretLen {
			t.Fatalf("random part %q: want %d characters", s, resetSecretLen)
		}
		for i := range len(s) {
			counts[s[i]]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct symbols, want 62", len(counts))
	}
	if chi := chiSquareUniform(counts); chi > chiSquareLimit {
		t.Errorf("chi-square %.1f: not uniform", chi)
	}
}

// TestResetSecretRejectsBiasedBytes: bytes 248..255 would favour the first
// eight symbols, so they are skipped.
func TestResetSecretRejectsBiasedBytes(t *testing.T) {
	src := append(bytes.Repeat([]byte{255, 248}, 16), bytes.Repeat([]byte{0}, 64)...)
	s, err := newResetSecret(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if s != strings.Repeat("A", resetSecretLen) {
		t.Fatalf("random part %q, want the biased bytes skipped", s)
	}
}

func testTokenIDs(t *testing.T) *tokenIDs {
	t.Helper()
	m, err := newTokenIDs(bytes.Repeat([]byte{7}, tokenIDsKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTokenIDsRoundTrip: every id, from the first to the last one 8
// characters can name, comes back from its characters, and distinct ids get
// distinct characters.
func TestTokenIDsRoundTrip(t *testing.T) {
	m := testTokenIDs(t)
	ids := []int64{1, 2, 3, 1 << 24, 1 << 40, resetIDSpace - 1}
	for i := range int64(20_000) {
		ids = append(ids, 4+i)
	}
	seen := map[string]int64{}
	for _, id := range ids {
		name, err := m.encode(id)
		if err != nil {
			t.Fatalf("encode(%d): %v", id, err)
		}
		if len(name) != resetIDLen || !wellFormedResetToken(name+strings.Repeat("A", resetSecretLen)) {
			t.Fatalf("encode(%d) = %q: want %d characters of [A-Za-z0-9]", id, name, resetIDLen)
		}
		if other, dup := seen[name]; dup {
			t.Fatalf("encode(%d) = encode(%d) = %q", id, other, name)
		}
		seen[name] = id
		if got, ok := m.decode(name + "secretsecret"); !ok || got != id {
			t.Fatalf("decode(encode(%d)) = %d, %v", id, got, ok)
		}
	}
}

// TestTokenIDsUniform: the names of sequential ids are uniform in each of
// the 8 positions, so a token says nothing of how many were issued.
func TestTokenIDsUniform(t *testing.T) {
	m := testTokenIDs(t)
	counts := make([]map[byte]int, resetIDLen)
	for i := range counts {
		counts[i] = map[byte]int{}
	}
	for id := int64(1); id <= 31_000; id++ {
		name, err := m.encode(id)
		if err != nil {
			t.Fatal(err)
		}
		for i := range resetIDLen {
			counts[i][name[i]]++
		}
	}
	for i, c := range counts {
		if chi := chiSquareUniform(c); chi > chiSquareLimit {
			t.Errorf("position %d: chi-square %.1f: not uniform", i, chi)
		}
	}
}

// TestTokenIDsPermutation: unpermute inverts permute on 48-bit values, and
// another key names ids differently.
func TestTokenIDsPermutation(t *testing.T) {
	m := testTokenIDs(t)
	var b [8]byte
	for range 10_000 {
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		x := binary.BigEndian.Uint64(b[:]) >> 16
		buf := make([]byte, aes.BlockSize)
		if y := m.permute(buf, x); y>>48 != 0 || m.unpermute(buf, y) != x {
			t.Fatalf("permute(%#x) = %#x, unpermute of it %#x", x, y, m.unpermute(buf, y))
		}
	}
	other, err := newTokenIDs(bytes.Repeat([]byte{8}, tokenIDsKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for id := int64(1); id <= 100; id++ {
		a, _ := m.encode(id)
		b, _ := other.encode(id)
		if a == b {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d of 100 ids named alike under two keys", same)
	}
}

func TestTokenIDsRange(t *testing.T) {
	m := testTokenIDs(t)
	for _, id := range []int64{-1, 0, resetIDSpace} {
		if name, err := m.encode(id); err == nil {
			t.Errorf("encode(%d) = %q, want an error", id, name)
		}
	}
	for _, s := range []string{"", "short", "bad-char", "AAAAAAA-"} {
		if id, ok := m.decode(s); ok {
			t.Errorf("decode(%q) = %d, want none", s, id)
		}
	}
	if _, err := newTokenIDs(make([]byte, 16)); err == nil {
		t.Error("newTokenIDs accepted a 16-byte key")
	}
}

func TestAuthTokenFormat(t *testing.T) {
	tok, err := newAuthToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !wellFormedAuthToken(tok) {
		t.Fatalf("auth token %q: want 40 lower-case hex", tok)
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  MrBailey@ProjectThanos.com ", "mrbailey@projectthanos.com", true},
		{"a@b.c", "a@b.c", true},
		{"", "", false},
		{"no-at-sign", "", false},
		{"a@b.c\r\nBcc: x@y.z", "", false},
		{"Name <a@b.c>", "", false},
		{"a@b.c, d@e.f", "", false},
		{"a\x00@b.c", "", false},
		{strings.Repeat("a", 251) + "@b.c", "", false},
		{"\xff@b.c", "", false},
	}
	for _, tc := range tests {
		got, err := NormalizeEmail("email", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// BenchmarkTokenIDs names a row and reads the name back, as issuing and
// validating a reset token each do once.
func BenchmarkTokenIDs(b *testing.B) {
	m, err := newTokenIDs(bytes.Repeat([]byte{7}, tokenIDsKeyLen))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := int64(1); b.Loop(); i++ {
		name, err := m.encode(i)
		if err != nil {
			b.Fatal(err)
		}
		if id, ok := m.decode(name); !ok || id != i {
			b.Fatalf("decode(encode(%d)) = %d", i, id)
		}
	}
}
