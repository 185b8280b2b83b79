package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// fuzzLimits make every hash the fuzzer can write cheap to verify: an
// expensive one is refused like any over-limit hash.
var fuzzLimits = limits{maxMemory: 1024, maxTime: 2, maxThreads: 4, maxPBKDF2Iter: 2000, maxBcryptCost: 5}

// Seeds besides testdata/fuzz/FuzzVerify.
const (
	seedArgon2id = "$argon2id$v=19$m=64,t=1,p=1$ZnV6enNhbHQ$apCbhl+ctIwOw6xNjcgViw" // "hunter2hunter2"
	seedBcrypt   = "$2a$04$YfeZyScGQCmrMxZRB/wt4uAM9.f.X0preXBbXLW4uA3E96pq29X2O"   // "hunter2hunter2"
)

func FuzzVerify(f *testing.F) {
	f.Add("hunter2hunter2", seedArgon2id)
	f.Add("hunter2hunter2", seedBcrypt)
	f.Add("correct horse battery staple", "pbkdf2_sha256$1000$Kq3vTz9LmW2x$E9+RYhh8yVfK2QfoIzqWNJ72BYSLtyRCpTaLVVK4SFc=")
	f.Add("password", refArgon2id256K)
	f.Add("x", "$argon2id$v=19$m=4294967295,t=4294967295,p=255$$")
	f.Add("x", "$2y$99$")
	f.Add("", "")
	h := &Hasher{Params: Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 16}, limits: &fuzzLimits}
	f.Fuzz(func(t *testing.T, plain, encoded string) {
		ok, rehash, err := h.Verify(plain, encoded)
		if err != nil {
			if ok || rehash {
				t.Fatalf("Verify = %v, %v, %v: true with an error", ok, rehash, err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("Verify error %v wraps neither ErrMalformed nor ErrUnknownFormat", err)
			}
			return
		}
		if rehash && !ok {
			t.Fatal("rehash without ok")
		}
	})
}

func FuzzPolicyCheck(f *testing.F) {
	f.Add("correct horse battery staple", "rbreslawski@cruxsupplier.com")
	f.Add("rbreslawski@cruxsupplier.com", "RBreslawski@CruxSupplier.com")
	f.Add("PASSWORDPASSWORD", "")
	f.Add(strings.Repeat("e\u0301", 15), "")
	f.Add("\xff\xfe", "\xff")
	p := Policy{}
	lo, hi := p.bounds()
	f.Fuzz(func(t *testing.T, password, email string) {
		err := p.Check(password, email)
		if err == nil {
			n := utf8.RuneCountInString(norm.NFKC.String(password))
			if !utf8.ValidString(password) || n < lo || n > hi {
				t.Fatalf("accepted %q: valid %v, %d code points", password, utf8.ValidString(password), n)
			}
			return
		}
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Reason == "" {
			t.Fatalf("Check error %#v is not a *PolicyError with a reason", err)
		}
		for _, s := range []error{ErrInvalidText, ErrTooShort, ErrTooLong, ErrCommon, ErrSameAsEmail, ErrGuessable} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("Check error %v wraps no policy sentinel", err)
	})
}
