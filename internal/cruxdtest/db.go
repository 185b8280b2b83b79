package cruxdtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// Account is a user NewDB creates in the organization "Crux Supplier".
type Account struct {
	Email     string
	FirstName string
	Password  string         // set as is, without the policy (like imported passwords)
	Hash      string         // stored as is instead of a hash of Password, as imported
	Status    account.Status // default ACTIVE
}

// NewDB returns the path of a new SQLite database holding accounts.
// Production seeds nothing, so its tests write their users through the
// store first.
func NewDB(tb testing.TB, accounts ...Account) string {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "cruxd.db")
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	hasher, err := password.NewHasher(password.DefaultParams)
	if err != nil {
		tb.Fatal(err)
	}
	svc := account.NewService(store, hasher, nil, account.Config{}, nil)
	if _, err := svc.CreateOrganization(ctx, "Crux Supplier", account.Supplier); err != nil {
		tb.Fatal(err)
	}
	for _, a := range accounts {
		hash := a.Hash
		if hash == "" {
			if hash, err = hasher.Hash(a.Password); err != nil {
				tb.Fatal(err)
			}
		}
		nu := account.NewUser{OrgName: "Crux Supplier", Email: a.Email, FirstName: a.FirstName, Hash: hash, Status: a.Status}
		if _, err := svc.CreateUser(ctx, nu); err != nil {
			tb.Fatal(err)
		}
	}
	return path
}
