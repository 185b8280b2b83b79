package password

import (
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
)

// strengthPrefix is how many leading code points the estimator reads. Its
// cost grows with about the cube of the length, so a long input must not
// reach it whole; a password whose first 32 code points are hard to guess
// is at least as hard, and one whose first 32 are easy is refused whatever
// follows them.
const strengthPrefix = 32

// guessable returns why pw (NFKC) is easy to guess, or "" when it is not:
// when its zxcvbn score is below minScore. DefaultMinScore, 3, means at
// least 10^8 guesses, out of reach of an online attack and costly offline
// against argon2id, where repeated characters, sequences and keyboard walks
// score 0 or 1 at any length. The e-mail address and its local part count
// as known words.
func guessable(pw, email string, minScore int) string {
	if utf8.RuneCountInString(pw) > strengthPrefix {
		pw = string([]rune(pw)[:strengthPrefix])
	}
	// The estimator's repeat matcher reads bytes, so a repeated non-ASCII
	// character would pass it: few distinct characters is repetition too.
	if distinct(pw) < minDistinct {
		return tooEasy + "repeated characters or a repeated pattern."
	}
	r := zxcvbn.PasswordStrength(pw, emailKeys(email))
	if r.Score >= minScore {
		return ""
	}
	// Name the pattern that covers most of the password.
	var main *match.Match
	for _, m := range r.Sequence {
		if main == nil || m.J-m.I > main.J-main.I {
			main = m
		}
	}
	why := "common passwords, words, names or dates."
	if main != nil {
		switch main.Pattern {
		case "repeat":
			why = "repeated characters or a repeated pattern."
		case "sequence":
			why = "a sequence such as abcd or 1234."
		case "spatial":
			why = "a keyboard pattern such as qwerty."
		}
	}
	return tooEasy + why
}

const tooEasy = "This password is too easy to guess: it is mostly "

// minDistinct is the fewest distinct code points a password may have.
const minDistinct = 5

// distinct returns how many distinct code points s holds.
func distinct(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}
