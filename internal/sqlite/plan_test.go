package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestPurgeSearchesIndexes checks that no purge statement scans its table:
// each batch holds the writer, and a scan would make the last batch of a
// purge read every row that stays.
func TestPurgeSearchesIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cruxd.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for kind, q := range purgeSQL {
		rows, err := db.Query("EXPLAIN QUERY PLAN "+q, 0, 10)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") {
				t.Errorf("purge of %s scans a table:\n%s", kind, strings.Join(plan, "\n"))
			}
		}
	}
}
