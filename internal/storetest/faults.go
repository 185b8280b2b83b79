package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
)

// Organization returns the i-th of a series of organizations with names of
// about 300 bytes: many fit a b-tree page, none needs an overflow page, so
// a file holding a few thousand has many index and table pages that
// lookups by name read.
func Organization(i int) *account.Organization {
	return &account.Organization{UUID: fmt.Sprint("org-", i), Name: fmt.Sprintf("Organization %06d %s", i, strings.Repeat("x", 280)),
		Type: account.Retailer}
}

// CreateOrganizations creates Organization(0) to Organization(n-1) in one
// Update.
func CreateOrganizations(tb testing.TB, s account.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	err := s.Update(ctx, func(tx account.Tx) error {
		for i := range n {
			if err := tx.CreateOrganization(ctx, Organization(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// Damage writes 16 KiB of random bytes into the middle of the database file
// at path, on a page boundary.
func Damage(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	junk := make([]byte, 16<<10)
	rand.Read(junk)
	if _, err := f.WriteAt(junk, fi.Size()/2/4096*4096); err != nil {
		tb.Fatal(err)
	}
}
