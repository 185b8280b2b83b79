package password

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
)

// commonPasswordsText is the list the policy refuses: one password a line,
// lower case after NFKC, sorted in byte order. common-passwords.README
// records its source, licence and how to regenerate it.
//
//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords returns the embedded list as a sorted slice. The slice
// shares the embedded string's memory, so building it costs one pass over
// the text and a slice header per entry (well under a millisecond), once.
var commonPasswords = sync.OnceValue(func() []string {
	return strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
})

// isCommon reports whether key, already NFKC-normalised and lower case, is
// on the list. A binary search: about 16 comparisons for 49,233 entries.
func isCommon(key string) bool {
	list := commonPasswords()
	_, found := slices.BinarySearch(list, key)
	return found
}
