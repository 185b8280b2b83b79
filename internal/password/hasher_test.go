package password

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// cheap keeps tests fast; DefaultParams is exercised where it matters.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func mustHash(tb testing.TB, h *Hasher, plain string) string {
	tb.Helper()
	enc, err := h.Hash(plain)
	if err != nil {
		tb.Fatalf("Hash: %v", err)
	}
	return enc
}

func TestHashFormat(t *testing.T) {
	salt := bytes.Repeat([]byte{0xA5}, 16)
	h := &Hasher{Rand: bytes.NewReader(salt)} // zero Params: DefaultParams
	enc := mustHash(t, h, "correct horse battery staple")
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$paWlpaWlpaWlpaWlpaWlpQ$"
	if !strings.HasPrefix(enc, prefix) {
		t.Fatalf("Hash = %q, want prefix %q", enc, prefix)
	}
	if key := strings.TrimPrefix(enc, prefix); len(key) != 43 { // 32 bytes, unpadded
		t.Errorf("key %q: %d characters, want 43", key, len(key))
	}
}

func TestHashRoundTrip(t *testing.T) {
	tests := []struct{ name, plain string }{
		{"ascii", "correct horse battery staple"},
		{"empty", ""},
		{"unicode", "Ünïcödé пароль 密码 🔑"},
		{"long", strings.Repeat("long password ", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Hasher{Params: cheap}
			enc := mustHash(t, h, tt.plain)
			ok, rehash, err := h.Verify(tt.plain, enc)
			if !ok || rehash || err != nil {
				t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(tt.plain+"x", enc)
			if ok || rehash || err != nil {
				t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
			if again := mustHash(t, h, tt.plain); again == enc {
				t.Error("two hashes of one password are equal: salt not random")
			}
		})
	}
	t.Run("default params", func(t *testing.T) {
		var h Hasher
		enc := mustHash(t, &h, "thanos_rocks")
		if ok, rehash, err := h.Verify("thanos_rocks", enc); !ok || rehash || err != nil {
			t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
	})
}

// Hash works on the NFKC form, so composed and decomposed input verify alike.
func TestHashNormalizes(t *testing.T) {
	h := &Hasher{Params: cheap}
	composed, decomposed := "caf\u00e9 cr\u00e8me", "cafe\u0301 cre\u0300me"
	enc := mustHash(t, h, decomposed)
	if ok, _, err := h.Verify(composed, enc); !ok || err != nil {
		t.Errorf("Verify(composed, hash of decomposed) = %v, %v; want true, nil", ok, err)
	}
}

func TestHashErrors(t *testing.T) {
	tests := []struct {
		name string
		h    *Hasher
		want error
	}{
		{"zero time", &Hasher{Params: Params{Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}}, ErrInvalidParams},
		{"no threads", &Hasher{Params: Params{Memory: 64, Time: 1, SaltLen: 16, KeyLen: 32}}, ErrInvalidParams},
		{"memory below 8*threads", &Hasher{Params: Params{Memory: 15, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}}, ErrInvalidParams},
		{"memory above limit", &Hasher{Params: Params{Memory: 1 << 20, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}, ErrInvalidParams},
		{"short salt", &Hasher{Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}}, ErrInvalidParams},
		{"short key", &Hasher{Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}}, ErrInvalidParams},
		{"failing rand", &Hasher{Params: cheap, Rand: iotest.ErrReader(errors.New("no entropy"))}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := tt.h.Hash("correct horse battery staple")
			if err == nil || enc != "" {
				t.Fatalf("Hash = %q, %v; want an error", enc, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Hash error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewHasher(t *testing.T) {
	if _, err := NewHasher(Params{}); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("NewHasher(zero) error %v, want ErrInvalidParams", err)
	}
	h, err := NewHasher(cheap)
	if err != nil {
		t.Fatal(err)
	}
	if h.dummy == "" {
		t.Error("NewHasher did not precompute the dummy hash")
	}
}

func TestVerifyDummy(t *testing.T) {
	h := &Hasher{Params: cheap}
	h.VerifyDummy("anything")
	first := h.dummyHash()
	if ok, rehash, err := h.Verify("anything", first); ok || rehash || err != nil {
		t.Fatalf("Verify(dummy) = %v, %v, %v; want false, false, nil (same cost as a current hash)", ok, rehash, err)
	}
	h.Params.Time = 2
	if h.dummyHash() == first {
		t.Error("dummy hash not recomputed after Params changed")
	}
	// A Hasher whose params Hash refuses must not panic here either.
	(&Hasher{Params: Params{Time: 1}}).VerifyDummy("x")
}

func TestHasherConcurrent(t *testing.T) {
	h := &Hasher{Params: cheap}
	enc := mustHash(t, h, "correct horse battery staple")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			h.VerifyDummy("x")
			if ok, _, err := h.Verify("correct horse battery staple", enc); !ok || err != nil {
				t.Errorf("Verify = %v, %v", ok, err)
			}
			if _, err := h.Hash("y"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
