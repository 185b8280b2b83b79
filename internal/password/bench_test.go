package password

import (
	"strings"
	"testing"
)

func BenchmarkHash(b *testing.B) {
	var h Hasher // DefaultParams
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	var h Hasher // DefaultParams
	enc := mustHash(b, &h, "correct horse battery staple")
	for b.Loop() {
		if ok, _, err := h.Verify("correct horse battery staple", enc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkVerifyDummy(b *testing.B) {
	var h Hasher // DefaultParams
	h.VerifyDummy("warm up")
	for b.Loop() {
		h.VerifyDummy("correct horse battery staple")
	}
}

func BenchmarkPolicyCheck(b *testing.B) {
	p := Policy{}
	for b.Loop() {
		if err := p.Check("Correct Horse Battery Staple", "rbreslawski@cruxsupplier.com"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommonListBuild measures what the first Check pays once.
func BenchmarkCommonListBuild(b *testing.B) {
	for b.Loop() {
		_ = strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	}
}
