package httpapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/password"
	"github.com/cruxd/cruxd/internal/sqlite"
)

// BenchmarkGetAllUsers10k serves Get All Users pages of an organization of
// 10,000 users on a SQLite file, through the whole handler (token lookup,
// one page query, JSON), a random page each time, and reports the p99 of
// the pages' latency besides the mean. Figures: docs/perf.md.
func BenchmarkGetAllUsers10k(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	policy, _ := password.PolicyFor(true, 0)
	svc := account.NewService(store, cheapHasher(b), policy, account.Config{Mode: account.Sandbox, HashWait: 10 * time.Second}, nil)
	org := &account.Organization{UUID: "e7409ece-e923-4aa8-a41b-4aacb9e475be", Name: "Big", Type: account.Retailer, CreatedAt: time.Now()}
	const users = 10_000
	err = store.Update(ctx, func(tx account.Tx) error {
		if err := tx.CreateOrganization(ctx, org); err != nil {
			return err
		}
		for i := range users {
			u := &account.User{UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), PersonUUID: fmt.Sprintf("10000000-0000-4000-8000-%012d", i),
				OrgID: org.ID, Email: fmt.Sprintf("user%d@big.example", i), FirstName: "Bench", LastName: fmt.Sprint(i),
				Phone: "(617)395-2696", Status: account.StatusActive, Permissions: []string{account.PermViewOrgUsers, "view_order"}, CreatedAt: time.Now()}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, account.NewUser{OrgName: "Big", Email: "viewer@big.example", Password: "a long bench passphrase"}); err != nil {
		b.Fatal(err)
	}
	sess, err := svc.Login(ctx, "viewer@big.example", "a long bench passphrase", account.Meta{IP: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	h := httpapi.New(svc, httpapi.Options{})
	pages := users/account.OrgUsersPageSize + 1
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest("GET", fmt.Sprintf("/organizations/users/all/?page=%d", i%pages+1), nil)
		req.Header.Set("Authorization", "Token "+sess.AuthToken)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		lat = append(lat, time.Since(start))
		if rec.Code != 200 {
			b.Fatalf("page %d: %d %s", i%pages+1, rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
