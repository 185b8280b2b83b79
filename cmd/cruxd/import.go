package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cruxd/cruxd/internal/account"
)

// importLine is one line of an import file.
type importLine struct {
	Email        *string `json:"email"`
	FirstName    string  `json:"first_name"`
	LastName     string  `json:"last_name"`
	Organization *string `json:"organization"`
	OrgType      string  `json:"org_type"`
	PasswordHash *string `json:"password_hash"`
	Status       string  `json:"status"`
}

// maxImportLine bounds one line of an import file.
const maxImportLine = 1 << 20

// errImportFailed is returned when some lines failed; each was reported.
var errImportFailed = errors.New("some lines failed")

// importCmd is `cruxd import FILE.jsonl`: one account a line, with its
// existing password hash. Lines whose address already has an account are
// skipped and reported, so an import can be run again; a bad line is
// reported with its number and the import goes on. It fails (exit 1) if any
// line failed.
func importCmd(fs *flag.FlagSet) func(context.Context, *admin) error {
	return func(ctx context.Context, a *admin) error {
		if len(a.args) != 1 {
			return fmt.Errorf("%w: cruxd import takes one file (FILE.jsonl, or - for stdin)", errUsage)
		}
		var r io.Reader = a.stdin
		if name := a.args[0]; name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		return runImport(ctx, a, r)
	}
}

func runImport(ctx context.Context, a *admin, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxImportLine)
	var created, skipped, failed int
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rec, err := parseImportLine(line)
		if err == nil {
			var ok bool
			ok, err = a.svc.ImportUser(ctx, rec, a.by)
			switch code := account.ErrorCode(err); {
			case err == nil && ok:
				created++
				continue
			case err == nil:
				skipped++
				fmt.Fprintf(a.stdout, "line %d: skipped: an account already uses %s\n", n, rec.Email)
				continue
			case code == account.EUNAVAILABLE || code == account.EINTERNAL:
				return fmt.Errorf("line %d: %w", n, err) // the store failed: stop
			}
		}
		failed++
		fmt.Fprintf(a.stdout, "line %d: error: %v\n", n, plain(err))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read import file: %w", err)
	}
	fmt.Fprintf(a.stdout, "imported %d, skipped %d (already there), failed %d\n", created, skipped, failed)
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d", errImportFailed, failed, created+skipped+failed)
	}
	return nil
}

// parseImportLine decodes one JSON object; the domain checks its values.
func parseImportLine(line []byte) (account.ImportRecord, error) {
	var l importLine
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&l); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return account.ImportRecord{}, fmt.Errorf("%s: not a string", te.Field)
		}
		return account.ImportRecord{}, errors.New("not a JSON object")
	}
	if dec.More() {
		return account.ImportRecord{}, errors.New("more than one JSON value on the line")
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"email", l.Email}, {"organization", l.Organization}, {"password_hash", l.PasswordHash}} {
		if f.v == nil {
			return account.ImportRecord{}, fmt.Errorf("%s: %s", f.name, account.MsgFieldRequired)
		}
	}
	return account.ImportRecord{
		Email: *l.Email, FirstName: l.FirstName, LastName: l.LastName,
		Organization: *l.Organization, OrgType: account.OrgType(l.OrgType),
		PasswordHash: *l.PasswordHash, Status: account.Status(l.Status),
	}, nil
}
