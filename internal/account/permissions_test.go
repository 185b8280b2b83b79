package account

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestPermissionCatalogue: the catalogue is the Crux docs' permissions page
// (13 common, 3 retailer-only, 5 supplier-only permissions) with the UUIDs
// of testdata/permissions.golden, which never change: clients cache them and
// every database and release must agree.
func TestPermissionCatalogue(t *testing.T) {
	var lines []string
	seen := map[string]bool{}
	for _, p := range catalogue {
		if _, err := uuid.Parse(p.UUID); err != nil || seen[p.UUID] || seen[p.Name] {
			t.Errorf("%s: uuid %q invalid or repeated, or name repeated", p.Name, p.UUID)
		}
		seen[p.UUID], seen[p.Name] = true, true
		if p.DisplayName == "" || p.Description == "" || p.Grouping == "" {
			t.Errorf("%s: display_name, description and grouping must be set: %+v", p.Name, p)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s", p.UUID, p.Visibility, p.Name))
	}
	want, err := os.ReadFile("testdata/permissions.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "\n") + "\n"; got != string(want) {
		t.Errorf("catalogue changed; uuids are forever:\n%s\nwant\n%s", got, want)
	}
	for typ, n := range map[OrgType]int{Retailer: 16, Supplier: 18, "OTHER": 0} {
		ps := PermissionsFor(typ)
		if len(ps) != n {
			t.Errorf("PermissionsFor(%s): %d permissions, want %d", typ, len(ps), n)
		}
		for _, p := range ps {
			if !p.Allows(typ) {
				t.Errorf("PermissionsFor(%s) lists %s (%s)", typ, p.Name, p.Visibility)
			}
			if got, ok := PermissionByUUID(typ, p.UUID); !ok || got != p {
				t.Errorf("PermissionByUUID(%s, %s) = %v, %v", typ, p.UUID, got, ok)
			}
		}
	}
	create, _ := PermissionByName("create_order")
	if _, ok := PermissionByUUID(Supplier, create.UUID); ok {
		t.Error("a supplier may hold the retailer-only create_order")
	}
	if _, ok := PermissionByUUID(Retailer, "51690784-8e22-44f2-a6b6-ae3fdb556051"); ok {
		t.Error("an unknown uuid was found")
	}
}
