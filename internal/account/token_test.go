package account

import (
	"bytes"
	"crypto/rand"
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

// TestResetTokenUniform draws 100,000 characters of reset tokens and
// checks each of the 62 symbols is about equally likely.
func TestResetTokenUniform(t *testing.T) {
	counts := map[byte]int{}
	for n := 0; n < 100_000; n += ResetTokenLen {
		s, err := newResetToken(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !wellFormedResetToken(s) {
			t.Fatalf("reset token %q: want %d characters of [A-Za-z0-9]", s, ResetTokenLen)
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

// TestResetTokenRejectsBiasedBytes: bytes 248..255 would favour the first
// eight symbols, so they are skipped.
func TestResetTokenRejectsBiasedBytes(t *testing.T) {
	src := append(bytes.Repeat([]byte{255, 248}, 16), bytes.Repeat([]byte{0}, 64)...)
	s, err := newResetToken(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if s != strings.Repeat("A", ResetTokenLen) {
		t.Fatalf("reset token %q, want the biased bytes skipped", s)
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
