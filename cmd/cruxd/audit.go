package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// auditCmd is `cruxd audit --email ADDRESS`: the audit trail of an
// address, oldest first.
func auditCmd(fs *flag.FlagSet) func(context.Context, *admin) error {
	email := fs.String("email", "", required+"the e-mail address")
	limit := fs.Int("limit", 1000, "events shown at most")
	return func(ctx context.Context, a *admin) error {
		es, err := a.svc.AuditTrail(ctx, *email, *limit)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			fmt.Fprintln(a.stdout, "no audit events for this address")
			return nil
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tACTION\tIP\tUSER AGENT\tDETAIL")
		for _, e := range es {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Action,
				orDash(e.IP), orDash(oneLine(e.UserAgent)), orDash(oneLine(e.Detail)))
		}
		return tw.Flush()
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a stored value from breaking the table (or the terminal):
// control characters become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\t' {
			return ' '
		}
		return r
	}, s)
}
