package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/password"
)

// The admin commands run the same account.Service as the API, on --db: the
// rules (address normalization, password policy, what a deactivation
// revokes) are the API's, never SQL of their own.

// adminCommand is one admin subcommand: it defines its flags on fs and
// returns what runs once they are parsed.
type adminCommand func(fs *flag.FlagSet) func(ctx context.Context, a *admin) error

// admin is what an admin command works with.
type admin struct {
	svc    *account.Service
	c      *config
	args   []string // positional arguments
	stdin  io.Reader
	stdout io.Writer
	by     account.Meta // who acts, for the audit trail
}

// runAdmin runs `cruxd <group> [<verb>] [flags]`: org add; user add, list,
// deactivate, reset-link; purge; import; audit.
func runAdmin(ctx context.Context, group string, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if isGroup(group) && (len(args) == 0 || isHelp(args[0])) {
		if len(args) == 0 {
			printGroup(stderr, group)
			return fmt.Errorf("%w: cruxd %s needs a command", errUsage, group)
		}
		printGroup(stdout, group)
		return flag.ErrHelp
	}
	name, cmd, err := pickAdmin(group, args)
	if err != nil {
		return err
	}
	if group != "purge" && group != "import" && group != "audit" {
		args = args[1:]
	}
	var c config
	fs := newFlagSet(name, &c, serviceFlags, stderr)
	do := cmd(fs)
	pos, err := parseInterspersed(fs, args, getenv)
	if err != nil {
		return err
	}
	if group != "import" && len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	if err := c.validateService(); err != nil {
		return err
	}
	if err := requiredFlags(fs); err != nil {
		return err
	}
	log := newLogger(c.LogFormat, stderr, slog.LevelWarn)
	svc, store, err := openService(ctx, &c, nil, log)
	if err != nil {
		return err
	}
	defer store.Close()
	a := &admin{
		svc: svc,
		c:   &c, args: pos, stdin: stdin, stdout: stdout,
		by: account.Meta{UserAgent: actor(name, getenv)},
	}
	if err := do(ctx, a); err != nil {
		if errors.Is(err, errUsage) {
			return err
		}
		return fmt.Errorf("%s: %w", name, plain(err))
	}
	return nil
}

// adminVerbs returns the commands of each group; each has its doc in
// docs().
func adminVerbs() map[string]map[string]adminCommand {
	return map[string]map[string]adminCommand{
		"org": {"add": orgAdd},
		"user": {"add": userAdd, "invite": userInvite, "list": userList, "deactivate": userDeactivate, "reactivate": userReactivate, "reset-link": userResetLink,
			"expire-legacy-hashes": userExpireLegacyHashes},
	}
}

// pickAdmin returns the full name and the command of group and args[0].
func pickAdmin(group string, args []string) (string, adminCommand, error) {
	verbs := adminVerbs()
	switch group {
	case "purge":
		return "purge", purgeCmd, nil
	case "import":
		return "import", importCmd, nil
	case "audit":
		return "audit", auditCmd, nil
	}
	vs := verbs[group]
	names := make([]string, 0, len(vs))
	for v := range vs {
		names = append(names, v)
	}
	slices.Sort(names)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("%w: cruxd %s needs a command (%s)", errUsage, group, strings.Join(names, ", "))
	}
	cmd, ok := vs[args[0]]
	if !ok {
		return "", nil, fmt.Errorf("%w: unknown command %q %q (commands: %s)", errUsage, group, args[0], strings.Join(names, ", "))
	}
	return group + " " + args[0], cmd, nil
}

// required flags are marked by a usage that starts with "(required)".
const required = "(required) "

// requiredFlags returns a usage error naming the first required flag left
// empty.
func requiredFlags(fs *flag.FlagSet) error {
	var missing string
	fs.VisitAll(func(f *flag.Flag) {
		if missing == "" && strings.HasPrefix(f.Usage, required) && strings.TrimSpace(f.Value.String()) == "" {
			missing = f.Name
		}
	})
	if missing != "" {
		return fmt.Errorf("%w: --%s is required", errUsage, missing)
	}
	return nil
}

// parseInterspersed parses args into fs, allowing positional arguments
// between flags, then gives the flags args left unset their values from
// the environment and the config file (applySources). It returns the
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			return pos, applySources(fs, getenv)
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// actor names who runs an admin command, for the audit trail.
func actor(name string, getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return fmt.Sprintf("cruxd %s (by %s)", name, u)
	}
	return "cruxd " + name
}

// plain turns a domain error into its message, "field: message" when it
// concerns a field, so the user reads one line without error codes.
func plain(err error) error {
	var e *account.Error
	if !errors.As(err, &e) {
		return err
	}
	if account.ErrorCode(err) == account.EUNAVAILABLE || account.ErrorCode(err) == account.EINTERNAL {
		return err
	}
	if e.Field != "" {
		return fmt.Errorf("%s: %s", e.Field, e.Message)
	}
	return errors.New(e.Message)
}

func orgAdd(fs *flag.FlagSet) func(context.Context, *admin) error {
	name := fs.String("name", "", required+"organization name")
	typ := fs.String("type", "", required+"organization type: RETAILER or SUPPLIER")
	return func(ctx context.Context, a *admin) error {
		o, err := a.svc.CreateOrganization(ctx, *name, account.OrgType(strings.ToUpper(strings.TrimSpace(*typ))), a.by)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "organization %q (%s) added, uuid %s\n", o.Name, o.Type, o.UUID)
		return nil
	}
}

// resetLinkFlag is --public-url, for the link printed with a reset token.
func resetLinkFlag(fs *flag.FlagSet) *string {
	return fs.String("public-url", "", "URL users reach cruxd at: the reset link is printed with the token")
}

// printResetToken prints the token, when it expires and, with a public URL,
// the link of the reset page.
func printResetToken(w io.Writer, publicURL, email, token string, expires time.Time, ttl time.Duration) error {
	fmt.Fprintf(w, "reset token for %s: %s\n", email, token)
	fmt.Fprintf(w, "expires %s (in %s)\n", expires.UTC().Format(time.RFC3339), account.Lifetime(ttl))
	if publicURL == "" {
		return nil
	}
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%w: --public-url must be an absolute http(s) URL", errUsage)
	}
	fmt.Fprintf(w, "reset link: %s\n", account.ResetLink(publicURL, token))
	return nil
}

func userAdd(fs *flag.FlagSet) func(context.Context, *admin) error {
	org := fs.String("org", "", required+"name of the user's organization")
	email := fs.String("email", "", required+"the user's e-mail address")
	first := fs.String("first", "", "first name")
	last := fs.String("last", "", "last name")
	publicURL := resetLinkFlag(fs)
	return func(ctx context.Context, a *admin) error {
		nu := account.NewUser{OrgName: *org, Email: *email, FirstName: *first, LastName: *last, By: a.by}
		piped := isPipe(a.stdin)
		if piped {
			pw, err := readPassword(a.stdin)
			if err != nil {
				return err
			}
			nu.Password = pw
		}
		u, err := a.svc.CreateUser(ctx, nu)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "user %s added to %q, uuid %s\n", u.Email, u.Org.Name, u.UUID)
		if piped {
			return nil
		}
		// No password given: the user chooses one through a reset link.
		token, expires, err := a.svc.IssueResetToken(ctx, u.Email, a.by)
		if err != nil {
			return err
		}
		return printResetToken(a.stdout, *publicURL, u.Email, token, expires, a.svc.Config().ResetTTL)
	}
}

// isPipe reports whether r is a pipe or a file rather than a terminal (or
// /dev/null, which is a character device too).
func isPipe(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return r != nil
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice == 0
}

// readPassword reads the first line of r, without its line break.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("password: stdin is piped but holds no password")
	}
	return pw, nil
}

func userList(fs *flag.FlagSet) func(context.Context, *admin) error {
	return func(ctx context.Context, a *admin) error {
		us, err := a.svc.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tNAME\tORGANIZATION\tTYPE\tSTATUS\tPASSWORD\tCREATED")
		for _, u := range us {
			org, typ := "", ""
			if u.Org != nil {
				org, typ = u.Org.Name, string(u.Org.Type)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, strings.TrimSpace(u.FirstName+" "+u.LastName),
				org, typ, u.Status, hashScheme(u.PasswordHash), u.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	}
}

// hashScheme names the scheme of a stored hash, never the hash.
func hashScheme(h string) string {
	if h == "" {
		return "none"
	}
	if s := password.Scheme(h); s != "" {
		return s
	}
	return "unknown"
}

func userDeactivate(fs *flag.FlagSet) func(context.Context, *admin) error {
	email := fs.String("email", "", required+"the user's e-mail address")
	return func(ctx context.Context, a *admin) error {
		if err := a.svc.DeactivateUser(ctx, *email, a.by); err != nil {
			return err
		}
		e, _ := account.NormalizeEmail("email", *email) // DeactivateUser accepted it
		fmt.Fprintf(a.stdout, "user %s deactivated; its auth and reset tokens are revoked\n", e)
		return nil
	}
}

func userReactivate(fs *flag.FlagSet) func(context.Context, *admin) error {
	email := fs.String("email", "", required+"the user's e-mail address")
	return func(ctx context.Context, a *admin) error {
		if err := a.svc.ReactivateUser(ctx, *email, a.by); err != nil {
			return err
		}
		e, _ := account.NormalizeEmail("email", *email) // ReactivateUser accepted it
		fmt.Fprintf(a.stdout, "user %s is active; it logs in with its password, or sets one with a reset link\n", e)
		return nil
	}
}

func userResetLink(fs *flag.FlagSet) func(context.Context, *admin) error {
	email := fs.String("email", "", required+"the user's e-mail address")
	publicURL := resetLinkFlag(fs)
	return func(ctx context.Context, a *admin) error {
		token, expires, err := a.svc.IssueResetToken(ctx, *email, a.by)
		if err != nil {
			return err
		}
		e, _ := account.NormalizeEmail("email", *email) // IssueResetToken accepted it
		return printResetToken(a.stdout, *publicURL, e, token, expires, a.svc.Config().ResetTTL)
	}
}

// userExpireLegacyHashes ends a migration: imported hashes not replaced at
// a login by then stop working, and their owners reset by mail.
func userExpireLegacyHashes(fs *flag.FlagSet) func(context.Context, *admin) error {
	before := fs.String("before", "", required+"expire the legacy hashes of accounts created (imported) before this date: YYYY-MM-DD (UTC) or RFC 3339")
	return func(ctx context.Context, a *admin) error {
		t, err := time.Parse(time.DateOnly, *before)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, *before); err != nil {
				return fmt.Errorf("%w: --before must be YYYY-MM-DD or RFC 3339, not %q", errUsage, *before)
			}
		}
		n, err := a.svc.ExpireLegacyHashes(ctx, t, a.by)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "expired the legacy password hashes of %d accounts created before %s; they log in again after a password reset\n",
			n, t.UTC().Format(time.RFC3339))
		return nil
	}
}

func purgeCmd(fs *flag.FlagSet) func(context.Context, *admin) error {
	retention := fs.Duration("retention", 7*24*time.Hour, "keep spent or expired tokens, finished mails and limit windows this long after they ended (1h at least)")
	auditRetention := fs.Duration("audit-retention", 365*24*time.Hour, "keep audit events this long")
	batch := fs.Int("batch", account.DefaultPurgeBatch, "rows deleted per transaction at most (the size adapts to --batch-time)")
	batchTime := fs.Duration("batch-time", account.DefaultPurgeBatchTime, "how long one transaction may hold the database's write lock")
	pause := fs.Duration("pause", account.DefaultPurgePause, "wait between transactions, so that the server's writes get in")
	return func(ctx context.Context, a *admin) error {
		if *batch <= 0 {
			return fmt.Errorf("%w: --batch must be positive", errUsage)
		}
		counts, err := a.svc.Purge(ctx, account.PurgeOptions{Retention: *retention, AuditRetention: *auditRetention,
			Batch: *batch, BatchTime: *batchTime, Pause: *pause})
		names := map[account.PurgeKind]string{
			account.PurgeResetTokens:       "spent or expired reset tokens",
			account.PurgeInvitations:       "spent or expired invitations",
			account.PurgeAuthTokens:        "revoked auth tokens",
			account.PurgeExpiredAuthTokens: "expired auth tokens",
			account.PurgeOutbox:            "finished outbox messages",
			account.PurgeAudit:             "audit events",
			account.PurgeCounters:          "rate-limit windows",
		}
		for _, k := range account.PurgeKinds {
			if n, ok := counts[k]; ok {
				fmt.Fprintf(a.stdout, "purged %d %s\n", n, names[k])
			}
		}
		return err
	}
}

func userInvite(fs *flag.FlagSet) func(context.Context, *admin) error {
	org := fs.String("org", "", required+"name of the organization the user joins")
	email := fs.String("email", "", required+"the user's e-mail address")
	first := fs.String("first", "", required+"first name")
	last := fs.String("last", "", required+"last name")
	perms := fs.String("permissions", "", "comma-separated permission names the user gets (none when empty)")
	mode := fs.String("mode", string(account.Sandbox), "sandbox: print the invitation token; production: only queue the invitation mail, which the server sends")
	publicURL := fs.String("public-url", "", "URL users reach cruxd at: the invitation link is printed with the token")
	return func(ctx context.Context, a *admin) error {
		if *mode != string(account.Sandbox) && *mode != string(account.Production) {
			return fmt.Errorf("%w: --mode must be sandbox or production", errUsage)
		}
		var names []string
		for n := range strings.SplitSeq(*perms, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		out, err := a.svc.Invite(ctx, account.NewInvite{Email: *email, FirstName: *first, LastName: *last,
			PermissionNames: names, OrgName: *org, ByMail: *mode == string(account.Production), Meta: a.by})
		if err != nil {
			return err
		}
		verb := "invited to"
		if out.Again {
			verb = "invited again to"
		}
		fmt.Fprintf(a.stdout, "user %s %s %q, uuid %s, status %s\n", out.User.Email, verb, out.User.Org.Name, out.User.UUID, out.User.Status)
		if out.Token == "" {
			fmt.Fprintln(a.stdout, "the invitation mail was queued: the server's outbox sends it")
			return nil
		}
		fmt.Fprintf(a.stdout, "invitation token: %s\n", out.Token)
		fmt.Fprintf(a.stdout, "expires in %s\n", account.Lifetime(account.InvitationTTL))
		if *publicURL == "" {
			return nil
		}
		u, err := url.Parse(*publicURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("%w: --public-url must be an absolute http(s) URL", errUsage)
		}
		fmt.Fprintf(a.stdout, "invitation link: %s\n", account.InviteLink(*publicURL, out.Token))
		return nil
	}
}
