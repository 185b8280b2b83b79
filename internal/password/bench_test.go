package password

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func BenchmarkHash(b *testing.B) {
	var h Hasher // DefaultParams
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashParallel hashes on every core at once, as cruxd does under
// load (one hash slot per core). Compare its ms/hash with BenchmarkHash's
// ns/op: the difference is what running hashes side by side costs, which
// cruxd's throughput bound (cores ÷ one hash alone) does not allow for.
// Run with -benchtime 100x or more: each hash allocates 19 MiB, and the
// first ones grow the heap.
func BenchmarkHashParallel(b *testing.B) {
	var h Hasher // DefaultParams
	h.Hash("warm up")
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash("correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	d := time.Since(start)
	b.ReportMetric(float64(b.N)/d.Seconds(), "hashes/s")
	b.ReportMetric(float64(d.Milliseconds())*float64(runtime.GOMAXPROCS(0))/float64(b.N), "ms/hash")
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

// BenchmarkPolicyCheckLong is the dearest password the estimator may read:
// 256 code points of which it reads the first 32: words, digits and
// symbols mixed.
func BenchmarkPolicyCheckLong(b *testing.B) {
	p := Policy{}
	pw := strings.Repeat("Tr0ub4dor&3 correct-horse 1987 qwerty!", 7)[:256]
	for b.Loop() {
		p.Check(pw, "rbreslawski@cruxsupplier.com")
	}
}

// BenchmarkCommonListBuild measures what the first Check pays once.
func BenchmarkCommonListBuild(b *testing.B) {
	for b.Loop() {
		_ = strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	}
}
