//go:build ignore

// gen_common writes common-passwords.txt from the "passwords" list of the npm
// package @zxcvbn-ts/language-common (src/passwords.json, a JSON array of
// strings). See common-passwords.README for the exact steps.
//
//	go run gen_common.go path/to/package/src/passwords.json
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run gen_common.go passwords.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The same key the policy looks up: lower case after NFKC, no blanks.
	for i, s := range list {
		list[i] = strings.ToLower(norm.NFKC.String(strings.TrimSpace(s)))
	}
	list = slices.DeleteFunc(list, func(s string) bool { return s == "" || strings.ContainsAny(s, "\r\n") })
	slices.Sort(list) // byte order: the lookup is a binary search
	list = slices.Compact(list)

	f, err := os.Create("common-passwords.txt")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(f)
	for _, s := range list {
		w.WriteString(s)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d entries\n", len(list))
}
