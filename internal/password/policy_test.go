package password

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestNewPolicy(t *testing.T) {
	tests := []struct {
		name string
		min  int
		ok   bool
	}{
		{"negative", -1, false},
		{"zero", 0, false},
		{"seven", 7, false},
		{"floor", 8, true},
		{"default", 15, true},
		{"max", 256, true},
		{"above max", 257, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.min)
			if !tt.ok {
				if !errors.Is(err, ErrInvalidPolicy) {
					t.Fatalf("NewPolicy(%d) error %v, want ErrInvalidPolicy", tt.min, err)
				}
				return
			}
			if err != nil || p.MinLength != tt.min || p.MaxLength != 256 {
				t.Fatalf("NewPolicy(%d) = %+v, %v", tt.min, p, err)
			}
		})
	}
}

func TestPolicyCheck(t *testing.T) {
	const (
		eAcute   = "\u00e9"  // é, one code point
		eCombine = "e\u0301" // e + combining acute: NFKC makes it é
		fiLig    = "\ufb01"  // ﬁ: NFKC makes it "fi", two code points
	)
	// strong64 is 64 code points the estimator finds hard to guess; the
	// length cases pad it with text it never reads.
	const strong64 = "correct horse battery staple, purple monkey dishwasher; 42 lamps"
	p15, p8 := Policy{}, Policy{MinLength: 8}
	tests := []struct {
		name     string
		p        Policy
		password string
		email    string
		want     error // nil: accepted
	}{
		{"15 ascii", p15, "correct horse b", "", nil},
		{"14 ascii", p15, "correct horse ", "", ErrTooShort},
		{"15 composed", p15, "corr" + eAcute + "ct hors" + eAcute + " b", "", nil},
		{"14 composed", p15, "corr" + eAcute + "ct hors" + eAcute + " ", "", ErrTooShort},
		// 17 code points as typed, 15 after NFKC.
		{"15 decomposed", p15, "corr" + eCombine + "ct hors" + eCombine + " b", "", nil},
		{"14 decomposed is 16 raw code points", p15, "corr" + eCombine + "ct hors" + eCombine + " ", "", ErrTooShort},
		{"15 fullwidth", p15, "ｃｏｒｒｅｃｔ　ｈｏｒｓｅ　ｂ", "", nil},
		{"14 fullwidth", p15, "ｃｏｒｒｅｃｔ　ｈｏｒｓｅ　", "", ErrTooShort},
		// 13 code points as typed, 15 after NFKC.
		{"ligatures expand", p15, fiLig + "ve " + fiLig + "sh " + fiLig + "ght 7", "", nil},
		{"256", p15, strong64 + strings.Repeat("ab", 96), "", nil},
		{"257", p15, strong64 + strings.Repeat("ab", 96) + "c", "", ErrTooLong},
		{"256 decomposed is 448 raw code points", p15, strong64 + strings.Repeat(eCombine, 192), "", nil},
		{"257 decomposed", p15, strings.Repeat(eCombine, 257), "", ErrTooLong},
		{"custom max", Policy{MinLength: 8, MaxLength: 10}, "elevenchars", "", ErrTooLong},
		{"zero min means 15", Policy{MaxLength: 256}, "fourteen chars", "", ErrTooShort},
		{"min below 8 means 8", Policy{MinLength: 4}, "seven c", "", ErrTooShort},
		{"invalid utf-8", p15, "correct horse \xff battery", "", ErrInvalidText},
		{"common", p8, "password", "", ErrCommon},
		{"common upper case", p8, "PassWord", "", ErrCommon},
		{"common fullwidth", p8, "ＰＡＳＳＷＯＲＤ", "", ErrCommon},
		{"common long", p15, "qwertyuiop12345", "", ErrCommon},
		{"common long mixed case", p15, "PasswordPassword", "", ErrCommon},
		{"not common", p8, "password-not-on-any-list-7", "", nil},
		{"email", p15, "roy.breslawski@cruxsupplier.com", "rbreslawski@cruxsupplier.com", nil},
		{"same as email", p15, "RBreslawski@CruxSupplier.com", "rbreslawski@cruxsupplier.com", ErrSameAsEmail},
		{"same as email with spaces", p15, " rbreslawski@cruxsupplier.com ", " RBRESLAWSKI@cruxsupplier.com", ErrSameAsEmail},
		{"same as email fullwidth", p15, "ｒｂｒｅｓｌａｗｓｋｉ＠ｃｒｕｘｓｕｐｐｌｉｅｒ．ｃｏｍ", "rbreslawski@cruxsupplier.com", ErrSameAsEmail},
		{"same as local part", p8, "RBreslawski", "rbreslawski@cruxsupplier.com", ErrSameAsEmail},
		{"contains local part", p8, "rbreslawski-likes-tea", "rbreslawski@cruxsupplier.com", nil},
		{"local part and a year", p15, "rbreslawski2024", "rbreslawski@cruxsupplier.com", ErrGuessable},
		{"same without the address", p15, "rbreslawski2024", "", nil},
		// NIST SP 800-63B-4 names repetitive and sequential strings.
		{"repeated", p15, "aaaaaaaaaaaaaaa", "", ErrGuessable},
		{"sequential digits", p15, "123456789012345", "", ErrGuessable},
		{"word and sequence", p15, "password123456789", "", ErrGuessable},
		{"no-break spaces", p15, strings.Repeat("\u00a0", 15), "", ErrGuessable},
		{"repeated non-ascii", p15, strings.Repeat(eAcute, 15), "", ErrGuessable},
		{"keyboard walk", p15, "qwertyuiopasdfghjkl", "", ErrGuessable},
		{"alphabet", p15, "abcdefghijklmnopq", "", ErrGuessable},
		{"repeated word", p15, "iloveyouiloveyouiloveyou", "", ErrGuessable},
		// Only the first 32 code points are read.
		{"weak prefix", p15, strings.Repeat("a", 32) + strong64, "", ErrGuessable},
		{"weak tail", p15, strong64[:32] + strings.Repeat("a", 200), "", nil},
		{"passphrase", p15, "correct horse battery staple", "", nil},
		{"sandbox example", p15, "crux-sandbox-demo-2024", "", nil},
		{"empty email", p8, "rbreslawski", "", nil},
		{"email without local part", p8, "@cruxsupplier.com", "@cruxsupplier.com", ErrSameAsEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check(tt.password, tt.email)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, tt.want) {
				t.Fatalf("Check = %#v, want a *PolicyError wrapping %v", err, tt.want)
			}
			if pe.Reason == "" || pe.Error() != pe.Reason {
				t.Errorf("Reason %q, Error %q", pe.Reason, pe.Error())
			}
		})
	}
}

// The reasons are shown to users as DRF field errors; pin their wording.
func TestPolicyReasons(t *testing.T) {
	tests := []struct{ name, password, email, want string }{
		{"short", "short", "", "This password is too short. It must contain at least 15 characters."},
		{"long", strings.Repeat("x", 300), "", "This password is too long. It must contain at most 256 characters."},
		{"common", "1234567890qwerty", "", "This password is too common."},
		{"email", "someone@example.com", "someone@example.com", "This password is too similar to the email address."},
		{"invalid", "\xc3\x28", "", "This password contains characters that are not valid text."},
		{"repeated", "aaaaaaaaaaaaaaa", "", "This password is too easy to guess: it is mostly repeated characters or a repeated pattern."},
		{"sequence", "abcdefghijklmnopq", "", "This password is too easy to guess: it is mostly a sequence such as abcd or 1234."},
		{"keyboard", "zxcvbnmasdfghjkl;", "", "This password is too easy to guess: it is mostly a keyboard pattern such as qwerty."},
		{"dictionary", "123456789012345", "", "This password is too easy to guess: it is mostly common passwords, words, names or dates."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Policy{}.Check(tt.password, tt.email)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Check = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCommonListShape(t *testing.T) {
	list := commonPasswords()
	if len(list) < 10000 {
		t.Fatalf("%d common passwords, want at least 10,000", len(list))
	}
	if !slices.IsSorted(list) {
		t.Fatal("common-passwords.txt is not sorted in byte order: lookups would miss")
	}
	for i, s := range list {
		if s == "" || s != strings.ToLower(norm.NFKC.String(s)) || s != strings.TrimSpace(s) {
			t.Fatalf("entry %d %q is not a lower-case NFKC key", i, s)
		}
		if i > 0 && list[i-1] == s {
			t.Fatalf("entry %q repeated", s)
		}
	}
	for _, s := range []string{list[0], list[len(list)/2], list[len(list)-1], "password", "123456"} {
		if !isCommon(s) {
			t.Errorf("isCommon(%q) = false", s)
		}
	}
	if isCommon("") || isCommon("zzzz-not-common-zzzz") {
		t.Error("isCommon true for a string not on the list")
	}
}

// TestPolicyFor: sandbox's default policy takes the Crux docs' example
// password "thanosrocks" (11 characters, strength score 2) and 8
// characters at least; production's refuses it (too short, and too easy
// to guess at any minimum) and keeps 15.
func TestPolicyFor(t *testing.T) {
	sandbox, err := PolicyFor(true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Check("thanosrocks", "jweir@projectthanos.com"); err != nil {
		t.Errorf("sandbox refused thanosrocks: %v", err)
	}
	if err := sandbox.Check("x7#kQ2p", ""); !errors.Is(err, ErrTooShort) {
		t.Errorf("sandbox, 7 characters: %v, want ErrTooShort", err)
	}
	if err := sandbox.Check("aaaaaaaaaaaa", ""); !errors.Is(err, ErrGuessable) {
		t.Errorf("sandbox, repeated: %v, want ErrGuessable", err)
	}
	production, err := PolicyFor(false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if production.MinLength != DefaultMinLength {
		t.Errorf("production minimum %d, want %d", production.MinLength, DefaultMinLength)
	}
	if err := production.Check("thanosrocks", ""); !errors.Is(err, ErrTooShort) {
		t.Errorf("production, thanosrocks: %v, want ErrTooShort", err)
	}
	lowered, _ := PolicyFor(false, 8)
	if err := lowered.Check("thanosrocks", ""); !errors.Is(err, ErrGuessable) {
		t.Errorf("production at 8, thanosrocks: %v, want ErrGuessable", err)
	}
	if _, err := PolicyFor(true, 7); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("PolicyFor(sandbox, 7): %v, want ErrInvalidPolicy", err)
	}
}
