package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"
)

// doc describes one command for `cruxd help` and its --help.
type doc struct {
	name    string // "serve", "user add"
	args    string // what follows the name on the command line
	summary string // one line in the command list
	more    string // what else a user must know, if anything
	example string
}

// docs returns every command's description, in the order of `cruxd help`.
func docs() []doc {
	return []doc{
		{name: "serve", args: "[flags]", summary: "run the server (the default command)",
			more:    "Sandbox (the default) seeds demo accounts and answers reset tokens in the response;\nproduction e-mails them and needs --public-url and --smtp-url.",
			example: "cruxd serve --mode production --db /var/lib/cruxd/cruxd.db --public-url https://id.example.com --smtp-url smtp://mail.example.com:587"},
		{name: "migrate", args: "[--db DB]", summary: "apply the database migrations and exit",
			example: "cruxd migrate --db postgres://cruxd@db.example.com/cruxd"},
		{name: "check", args: "[--db FILE]", summary: "run SQLite's full integrity check; exit 1 on damage",
			example: "cruxd check --db /var/lib/cruxd/cruxd.db"},
		{name: "backup", args: "[--db FILE] DEST", summary: "copy a SQLite database while cruxd serves it",
			more:    "The copy holds every write acknowledged before the backup began; DEST must not exist.\nRestore: stop cruxd, put DEST in place of the database file (move its -wal and -shm\nfiles aside), start cruxd. PostgreSQL is backed up with pg_dump.",
			example: "cruxd backup --db /var/lib/cruxd/cruxd.db /var/backups/cruxd/cruxd-1.db"},
		{name: "org add", args: "--name NAME --type RETAILER|SUPPLIER", summary: "create an organization",
			example: "cruxd org add --name Acme --type RETAILER"},
		{name: "user add", args: "--org NAME --email E [--first F] [--last L] [< PASSWORD]", summary: "create a user",
			more:    "The password is read from standard input (its first line), under the password policy.\nWithout input the user gets no password, and a reset token and link are printed instead.",
			example: "echo 'a long passphrase of mine' | cruxd user add --org Acme --email ann@acme.test --first Ann --last Lee"},
		{name: "user invite", args: "--org NAME --email E --first F --last L [--permissions P,Q] [--mode production]", summary: "invite a user: it awaits confirmation until it chooses a password through the invitation",
			more:    "In sandbox mode (the default) the invitation token is printed, with its link when --public-url is given.\nWith --mode production only the invitation mail is queued; the server's outbox sends it.",
			example: "cruxd user invite --org Acme --email ann@acme.test --first Ann --last Lee --permissions view_org_users --public-url https://id.acme.test"},
		{name: "user list", summary: "list every user with its organization and status",
			example: "cruxd user list --db /var/lib/cruxd/cruxd.db"},
		{name: "user deactivate", args: "--email E", summary: "deactivate a user: its sessions and reset links end",
			example: "cruxd user deactivate --email ann@acme.test"},
		{name: "user reactivate", args: "--email E", summary: "make a deactivated user active again (its ended sessions stay ended)",
			example: "cruxd user reactivate --email ann@acme.test"},
		{name: "user reset-link", args: "--email E", summary: "print a reset token and link for a user (lives --reset-ttl)",
			example: "cruxd user reset-link --email ann@acme.test --reset-ttl 24h"},
		{name: "user expire-legacy-hashes", args: "--before DATE", summary: "end a migration: imported hashes never replaced at a login stop working",
			more: "Accounts created (imported) before DATE whose hash is still a legacy one lose it: their\n" +
				"login fails like a wrong password and their owners set a new password through a reset mail.\n" +
				"Until then every failed login costs one verification of each hash cost still stored.",
			example: "cruxd user expire-legacy-hashes --before 2027-03-01"},
		{name: "import", args: "FILE.jsonl | -", summary: "import accounts with their existing password hashes",
			more: "One JSON object a line: email, password_hash (Django pbkdf2_sha256, bcrypt or argon2id)\n" +
				"and organization are required; first_name, last_name, org_type (RETAILER or SUPPLIER,\n" +
				"required when the organization is new) and status (ACTIVE by default) are optional.\n" +
				"Addresses that already have an account are skipped, so an import can be run again.",
			example: "cruxd import users.jsonl   # a line: {\"email\": \"ann@acme.test\", \"organization\": \"Acme\", \"org_type\": \"RETAILER\", \"password_hash\": \"pbkdf2_sha256$600000$...\"}"},
		{name: "audit", args: "--email E", summary: "print the audit trail of an address",
			example: "cruxd audit --email ann@acme.test"},
		{name: "purge", args: "[--retention 168h] [--audit-retention 8760h]", summary: "delete what ended: spent tokens, finished mails, old audit events",
			more:    "cruxd serve does the same every --purge-interval.",
			example: "cruxd purge --db /var/lib/cruxd/cruxd.db"},
		{name: "version", summary: "print cruxd's version and the commit it was built from"},
		{name: "help", args: "[COMMAND]", summary: "list the commands, or show one's usage",
			example: "cruxd help user add"},
	}
}

// docOf returns the description of the command name ("user add").
func docOf(name string) (doc, bool) {
	for _, d := range docs() {
		if d.name == name {
			return d, true
		}
	}
	return doc{}, false
}

// usageFunc returns a Usage for fs: the command's usage line, what else to
// know, an example, and every flag with its environment twin.
func usageFunc(fs *flag.FlagSet, name string, w io.Writer) func() {
	return func() {
		d, _ := docOf(name)
		fmt.Fprintf(w, "usage: cruxd %s %s\n", name, d.args)
		if d.summary != "" {
			fmt.Fprintf(w, "\n%s.\n", strings.ToUpper(d.summary[:1])+d.summary[1:])
		}
		if d.more != "" {
			fmt.Fprintf(w, "%s\n", d.more)
		}
		if d.example != "" {
			fmt.Fprintf(w, "\nExample:\n  %s\n", d.example)
		}
		fmt.Fprintln(w, "\nFlags (each also a CRUXD_* environment variable, a CRUXD_*_FILE file for secrets,\nor a key of the --config YAML file, in that order of precedence after the flag):")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(w, "  --%s %s (env %s, default %q)\n", f.Name, f.Usage, envName(f.Name), f.DefValue)
		})
	}
}

// printCommands writes the command list of `cruxd help`.
func printCommands(w io.Writer) {
	fmt.Fprintln(w, "cruxd serves the Crux password-reset and login API.")
	fmt.Fprintln(w, "\nusage: cruxd [COMMAND] [flags]")
	fmt.Fprintln(w, "\nCommands:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range docs() {
		fmt.Fprintf(tw, "  %s\t%s\n", d.name, d.summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\n'cruxd help COMMAND' or 'cruxd COMMAND --help' shows a command's usage and flags.")
	fmt.Fprintln(w, "Without a command cruxd serves: 'cruxd --addr 127.0.0.1:9000' is 'cruxd serve --addr 127.0.0.1:9000'.")
}

// printGroup writes the commands of a group ("user") with their summaries.
func printGroup(w io.Writer, group string) {
	fmt.Fprintf(w, "usage: cruxd %s COMMAND [flags]\n\nCommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range docs() {
		if verb, ok := strings.CutPrefix(d.name, group+" "); ok {
			fmt.Fprintf(tw, "  %s\t%s\n", verb, d.summary)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n'cruxd %s COMMAND --help' shows a command's usage and flags.\n", group)
}

// isGroup reports whether name is a group of commands ("user").
func isGroup(name string) bool { return name == "org" || name == "user" }

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// runHelp runs `cruxd help [COMMAND [VERB]]`.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		printCommands(stdout)
		return nil
	}
	name := strings.Join(args, " ")
	if _, ok := docOf(name); !ok && !isGroup(name) {
		return fmt.Errorf("%w: no command %q (cruxd help lists them)", errUsage, name)
	}
	if isGroup(name) {
		printGroup(stdout, name)
		return nil
	}
	run(ctx, append(args, "--help"), stdout, stdout, getenv)
	return nil
}

// runVersion prints the module version, the commit and the Go version the
// binary was built with, from its build information.
func runVersion(w io.Writer) error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "cruxd (no build information)")
		return nil
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	commit := settings["vcs.revision"]
	if commit == "" {
		commit = "unknown"
	} else if settings["vcs.modified"] == "true" {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "cruxd %s\ncommit %s", bi.Main.Version, commit)
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(w, " (%s)", t)
	}
	fmt.Fprintf(w, "\n%s\n", bi.GoVersion)
	return nil
}
