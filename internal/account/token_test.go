package account

import (
	"bytes"
	"crypto/rand"
	"math"
	"strings"
	"testing"
)

// TestResetTokenUniform draws 100,000 characters and checks each of the 62
// symbols is about equally likely (chi-square, 61 degrees of freedom; 110 is
// beyond the 0.9999 quantile, so a correct generator fails once in 10,000).
func TestResetTokenUniform(t *testing.T) {
	counts := map[rune]int{}
	n := 0
	for n < 100_000 {
		tok, err := newResetToken(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != ResetTokenLen || !wellFormedResetToken(tok) {
			t.Fatalf("token %q", tok)
		}
		for _, c := range tok {
			counts[c]++
			n++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct symbols, want 62", len(counts))
	}
	want := float64(n) / 62
	chi := 0.0
	for _, c := range counts {
		chi += math.Pow(float64(c)-want, 2) / want
	}
	if chi > 110 {
		t.Errorf("chi-square %.1f: not uniform", chi)
	}
}

// TestResetTokenRejectsBiasedBytes: bytes 248..255 would favour the first
// eight symbols, so they are skipped.
func TestResetTokenRejectsBiasedBytes(t *testing.T) {
	src := append(bytes.Repeat([]byte{255, 248}, 16), bytes.Repeat([]byte{0}, 64)...)
	tok, err := newResetToken(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if tok != strings.Repeat("A", 20) {
		t.Fatalf("token %q, want the biased bytes skipped", tok)
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
