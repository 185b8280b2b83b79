package password

import (
	"errors"
	"strings"
	"testing"
)

type vector struct {
	name, plain, encoded string
	ok, rehash           bool
}

func runVectors(t *testing.T, h *Hasher, tests []vector) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.plain, tt.encoded)
			if err != nil {
				t.Fatalf("Verify error: %v", err)
			}
			if ok != tt.ok || rehash != tt.rehash {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, rehash, tt.ok, tt.rehash)
			}
		})
	}
}

// Argon2id v=19 vectors of the reference implementation, password "password",
// salt "somesalt", 32-byte key: phc-winner-argon2 src/test.c (master),
// https://github.com/P-H-C/phc-winner-argon2/blob/master/src/test.c
// (the m=65536 one is also the example in its README).
const (
	refArgon2id64M   = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	refArgon2id256K  = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	refArgon2id256K2 = "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"
)

func TestVerifyArgon2idReference(t *testing.T) {
	ref := Params{Memory: 256, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32}
	runVectors(t, &Hasher{Params: ref}, []vector{
		{"m=64MiB", "password", refArgon2id64M, true, true},
		{"m=256KiB same params", "password", refArgon2id256K, true, false},
		{"m=256KiB p=2", "password", refArgon2id256K2, true, true},
		{"wrong password", "passwore", refArgon2id256K, false, false},
		{"wrong password other params", "passwore", refArgon2id64M, false, false},
	})
}

func TestVerifyArgon2idTampered(t *testing.T) {
	h := &Hasher{Params: cheap}
	enc := mustHash(t, h, "correct horse battery staple")
	f := strings.Split(enc, "$")    // "", argon2id, v=19, params, salt, key
	flip := func(s string) string { // change the first character, keep the length
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	tests := []struct{ name, encoded string }{
		{"key", strings.Join([]string{"", f[1], f[2], f[3], f[4], flip(f[5])}, "$")},
		{"salt", strings.Join([]string{"", f[1], f[2], f[3], flip(f[4]), f[5]}, "$")},
		{"time", strings.Replace(enc, "t=1", "t=2", 1)},
		{"memory", strings.Replace(enc, "m=64", "m=72", 1)},
		{"threads", strings.Replace(enc, "p=1", "p=2", 1)},
		{"key shortened", enc[:len(enc)-3]}, // 40 characters: a 30-byte key
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, _, err := h.Verify("correct horse battery staple", tt.encoded)
			if ok || err != nil {
				t.Errorf("Verify(tampered) = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestVerifyRehash(t *testing.T) {
	old := &Hasher{Params: cheap}
	enc := mustHash(t, old, "correct horse battery staple")
	tests := []struct {
		name   string
		params Params
		want   bool
	}{
		{"same", cheap, false},
		{"memory", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"time", Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"threads", Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}, true},
		{"salt length", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32}, true},
		{"key length", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64}, true},
		{"default params", Params{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := (&Hasher{Params: tt.params}).Verify("correct horse battery staple", enc)
			if !ok || err != nil || rehash != tt.want {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
		})
	}
}

func TestVerifyDjangoPBKDF2(t *testing.T) {
	runVectors(t, &Hasher{Params: cheap}, []vector{
		// Django 3.2 tests/auth_tests/test_hashers.py, test_pbkdf2:
		// make_password("lètmein", "seasalt", "pbkdf2_sha256").
		{"django test suite", "lètmein", "pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=", true, true},
		{"django test suite wrong", "lètmeinz", "pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=", false, false},
		// python3: base64.b64encode(hashlib.pbkdf2_hmac('sha256', pw.encode(), b'Kq3vTz9LmW2x', 1000))
		{"hashlib ascii", "correct horse battery staple", "pbkdf2_sha256$1000$Kq3vTz9LmW2x$E9+RYhh8yVfK2QfoIzqWNJ72BYSLtyRCpTaLVVK4SFc=", true, true},
		{"hashlib unicode", "Ünïcödé пароль", "pbkdf2_sha256$1000$Kq3vTz9LmW2x$ksyp3fjBFB1tOxMD+aazSyaX5ecL6gHj4JsIJ1D+dB0=", true, true},
		{"hashlib wrong", "correct horse battery stapler", "pbkdf2_sha256$1000$Kq3vTz9LmW2x$E9+RYhh8yVfK2QfoIzqWNJ72BYSLtyRCpTaLVVK4SFc=", false, false},
	})
}

func TestVerifyBcrypt(t *testing.T) {
	const over72 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored"
	runVectors(t, &Hasher{Params: cheap}, []vector{
		// Openwall crypt_blowfish 1.3, wrapper.c tests[]:
		// https://www.openwall.com/crypt/ (also in John the Ripper and BouncyCastle).
		{"openwall U*U", "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", true, true},
		{"openwall U*U*", "U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK", true, true},
		{"openwall U*U*U", "U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a", true, true},
		{"openwall empty", "", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy", true, true},
		{"openwall over 72 bytes", over72, "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui", true, true},
		{"openwall 2b 8-bit", "\xff\xff\xa3", "$2b$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e", true, true},
		{"openwall 2y 8-bit", "\xff\xff\xa3", "$2y$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e", true, true},
		{"openwall 2a a3", "\xa3", "$2a$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq", true, true},
		{"openwall 2y a3", "\xa3", "$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq", true, true},
		// crypt_blowfish's $2a$ countermeasure for the sign-extension bug
		// gives another result for this input; documented as unsupported.
		{"openwall 2a safe mode", "\xff\xff\xa3", "$2a$05$/OK.fbVrR/bpIqNJ5ianF.nqd1wy.pTMdcvrRWxyiGL2eMz.2a85.", false, false},
		// PHP manual, password_hash() and password_verify() examples:
		// https://www.php.net/manual/en/function.password-verify.php
		{"php password_verify", "rasmuslerdorf", "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a", true, true},
		{"php password_hash cost 7", "rasmuslerdorf", "$2y$07$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq", true, true},
		{"php wrong", "rasmuslerdorF", "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a", false, false},
	})
}

// canary is the password in malformed-input tests: no error may contain it.
const canary = "canary-Pa55word-7f3e"

func TestVerifyMalformed(t *testing.T) {
	salt, key := "c29tZXNhbHQ", "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	a := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	djangoKey := "E9+RYhh8yVfK2QfoIzqWNJ72BYSLtyRCpTaLVVK4SFc="
	bc := "$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	tests := []struct {
		name, encoded string
		want          error
	}{
		{"empty", "", ErrUnknownFormat},
		{"plain text", canary, ErrUnknownFormat},
		{"argon2i", "$argon2i$v=19$m=256,t=2,p=1$" + salt + "$" + key, ErrUnknownFormat},
		{"argon2d", "$argon2d$v=19$m=256,t=2,p=1$" + salt + "$" + key, ErrUnknownFormat},
		{"django bcrypt_sha256", "bcrypt_sha256$$2b$12$abc", ErrUnknownFormat},
		{"django pbkdf2_sha1", "pbkdf2_sha1$1000$seasalt$h8WVtFzNLTNUp5hU+IFmjz0virc=", ErrUnknownFormat},
		{"bcrypt 2x", "$2x$05" + bc, ErrUnknownFormat},
		{"bcrypt 2", "$2$05" + bc, ErrUnknownFormat},
		{"argon2id prefix only", "$argon2id$", ErrMalformed},
		{"argon2id version 16", "$argon2id$v=16$m=256,t=2,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2id no version", "$argon2id$m=256,t=2,p=1$" + salt + "$" + key, ErrMalformed},
		{"argon2id extra field", a("m=256,t=2,p=1") + "$x", ErrMalformed},
		{"argon2id params order", a("t=2,m=256,p=1"), ErrMalformed},
		{"argon2id extra param", a("m=256,t=2,p=1,keyid=x"), ErrMalformed},
		{"argon2id leading zero", a("m=0256,t=2,p=1"), ErrMalformed},
		{"argon2id sign", a("m=+256,t=2,p=1"), ErrMalformed},
		{"argon2id m overflow", a("m=99999999999999999999,t=2,p=1"), ErrMalformed},
		{"argon2id m 4 GiB", a("m=4294967295,t=2,p=1"), ErrMalformed},
		{"argon2id m above 256 MiB", a("m=262145,t=1,p=1"), ErrMalformed},
		{"argon2id m below 8p", a("m=15,t=1,p=2"), ErrMalformed},
		{"argon2id t 0", a("m=256,t=0,p=1"), ErrMalformed},
		{"argon2id t huge", a("m=256,t=4294967295,p=1"), ErrMalformed},
		{"argon2id p 0", a("m=256,t=2,p=0"), ErrMalformed},
		{"argon2id p 255", a("m=65536,t=2,p=255"), ErrMalformed},
		{"argon2id salt 4 bytes", "$argon2id$v=19$m=256,t=2,p=1$c2FsdA$" + key, ErrMalformed},
		{"argon2id salt huge", "$argon2id$v=19$m=256,t=2,p=1$" + strings.Repeat("A", 1<<20) + "$" + key, ErrMalformed},
		{"argon2id key 8 bytes", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$c29tZXNhbHQ", ErrMalformed},
		// The base64 decoder skips newlines: long enough as text, empty as bytes.
		{"argon2id key of newlines", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + strings.Repeat("\r", 43), ErrMalformed},
		{"argon2id salt of newlines", "$argon2id$v=19$m=256,t=2,p=1$" + strings.Repeat("\n", 11) + "$" + key, ErrMalformed},
		{"argon2id key 3 bytes and newlines", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$YWJj" + strings.Repeat("\r", 39), ErrMalformed},
		{"argon2id padded base64", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key + "=", ErrMalformed},
		{"argon2id bad base64", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + strings.Repeat("*", 43), ErrMalformed},
		{"django missing field", "pbkdf2_sha256$1000$" + djangoKey, ErrMalformed},
		{"django iterations 0", "pbkdf2_sha256$0$Kq3vTz9LmW2x$" + djangoKey, ErrMalformed},
		{"django iterations negative", "pbkdf2_sha256$-1$Kq3vTz9LmW2x$" + djangoKey, ErrMalformed},
		{"django iterations plus", "pbkdf2_sha256$+1000$Kq3vTz9LmW2x$" + djangoKey, ErrMalformed},
		{"django iterations empty", "pbkdf2_sha256$$Kq3vTz9LmW2x$" + djangoKey, ErrMalformed},
		{"django iterations above cap", "pbkdf2_sha256$2000001$Kq3vTz9LmW2x$" + djangoKey, ErrMalformed},
		{"django iterations overflow", "pbkdf2_sha256$99999999999999999999999$Kq3vTz9LmW2x$" + djangoKey, ErrMalformed},
		{"django empty salt", "pbkdf2_sha256$1000$$" + djangoKey, ErrMalformed},
		{"django key not base64", "pbkdf2_sha256$1000$Kq3vTz9LmW2x$" + canary, ErrMalformed},
		{"django key 16 bytes", "pbkdf2_sha256$1000$Kq3vTz9LmW2x$YWFhYWFhYWFhYWFhYWFhYQ==", ErrMalformed},
		{"bcrypt short", "$2a$05$CCCC", ErrMalformed},
		{"bcrypt cost 31", "$2a$31" + bc, ErrMalformed},
		{"bcrypt cost 15", "$2b$15" + bc, ErrMalformed},
		{"bcrypt cost 03", "$2a$03" + bc, ErrMalformed},
		{"bcrypt cost letters", "$2a$xx" + bc, ErrMalformed},
		{"bcrypt cost sign", "$2a$+5" + bc, ErrMalformed},
		{"bcrypt bad alphabet", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe*", ErrMalformed},
		{"bcrypt missing separator", "$2a$05CCCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", ErrMalformed},
	}
	h := &Hasher{Params: cheap}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(canary, tt.encoded)
			if ok || rehash || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, %v, %v; want false, false, %v", ok, rehash, err, tt.want)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}
