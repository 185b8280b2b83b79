package account

import "fmt"

// SchemaError reports a database migrated by a newer cruxd: it records
// migrations this binary does not know, so its tables may mean what this
// binary does not expect. Both stores refuse to open such a database
// unless told the newer migrations are compatible.
type SchemaError struct {
	Database int // the newest migration the database records
	Binary   int // the newest migration this binary knows
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("the database's schema is at migration %d, newer than this cruxd's %d: run the newer cruxd, "+
		"or pass --allow-newer-schema if its release notes declare the newer migrations compatible", e.Database, e.Binary)
}
