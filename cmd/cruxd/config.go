package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/httpapi"
	"github.com/cruxd/cruxd/internal/mail"
	"github.com/cruxd/cruxd/internal/password"
)

// config is everything a cruxd process is told through flags, their
// CRUXD_* environment twins and the --config file (applySources).
type config struct {
	Config           string
	Addr             string
	DB               string
	Mode             string
	SandboxPublic    bool
	PublicURL        string
	SMTPURL          string
	MailFrom         string
	ResetTTL         time.Duration
	AuthTTL          time.Duration
	MinPasswordLen   int
	HashConcurrency  int
	HashWait         time.Duration
	TrustedProxies   cidrList
	IPv6Prefix       int
	Limits           bool
	LimitValues      account.Limits
	MailRetryMin     time.Duration
	MailLease        time.Duration
	SMTPConnections  int
	LogFormat        string
	PoolSize         int
	StatementTimeout time.Duration
	NoMigrate        bool
	ShutdownTimeout  time.Duration
	PprofAddr        string
	MetricsAddr      string
	ReadTimeout      time.Duration
	ProductName      string
	SupportEmail     string
	MailTemplates    string
	ReturnURL        string

	PurgeInterval       time.Duration
	PurgeRetention      time.Duration
	PurgeAuditRetention time.Duration

	AllowNewerSchema bool
	WALLimitMiB      int64

	log *slog.Logger // the store's logger; nil discards its lines
}

// errUsage marks an error in the command line: exit code 2.
var errUsage = errors.New("usage")

// envName returns a flag's environment twin: --public-url → CRUXD_PUBLIC_URL.
func envName(flagName string) string {
	return "CRUXD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Which flags a command takes: each level adds to the one before.
type flagLevel int

const (
	dbFlags      flagLevel = iota // the database: migrate
	serviceFlags                  // and the Service's settings: the admin commands
	serveFlags                    // and the server's: serve
)

// newFlagSet defines the flags of a command at level.
func newFlagSet(name string, c *config, level flagLevel, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Config, "config", "", "a YAML file of settings keyed by flag name; flags and the environment win over it")
	fs.StringVar(&c.DB, "db", "cruxd.db", "database: a SQLite file path, or a postgres:// URL")
	fs.IntVar(&c.PoolSize, "pool-size", 10, "PostgreSQL: connections in the pool")
	fs.DurationVar(&c.StatementTimeout, "statement-timeout", 5*time.Second, "PostgreSQL: statement timeout")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&c.AllowNewerSchema, "allow-newer-schema", false, "open a database migrated by a newer cruxd, declaring its newer migrations compatible (only when its release notes say so)")
	fs.Int64Var(&c.WALLimitMiB, "wal-limit-mib", 0, "SQLite: WAL size in MiB past which writes answer 503 while a read transaction keeps it from being checkpointed (0: half the free room beside the database at start, 8 to 256)")
	if level >= serviceFlags {
		fs.BoolVar(&c.NoMigrate, "no-migrate", false, "do not apply database migrations at start: fail unless cruxd migrate applied them")
		fs.IntVar(&c.MinPasswordLen, "min-password-length", 0, fmt.Sprintf("shortest password accepted, %d at least (0: %d in sandbox, %d otherwise)",
			password.FloorMinLength, password.DefaultMinLengthFor(true), password.DefaultMinLengthFor(false)))
		fs.DurationVar(&c.ResetTTL, "reset-ttl", account.DefaultResetTTL, "lifetime of a reset token")
		fs.DurationVar(&c.AuthTTL, "auth-ttl", account.DefaultAuthTTL, "lifetime of an auth token (login session)")
		fs.IntVar(&c.HashConcurrency, "hash-concurrency", 0, "password hashes run at once (0: one per CPU)")
		fs.DurationVar(&c.HashWait, "hash-wait", account.DefaultHashWait, "how long a hash may wait for a slot before 503")
	}
	if level >= serveFlags {
		fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on")
		fs.StringVar(&c.Mode, "mode", string(account.Sandbox), "environment: sandbox or production")
		fs.BoolVar(&c.SandboxPublic, "sandbox-public", false, "let sandbox, whose answers carry reset tokens, listen on an --addr that is not loopback")
		fs.StringVar(&c.PublicURL, "public-url", "", "URL users reach cruxd at, for the links in mails (production: required, https unless loopback)")
		fs.StringVar(&c.SMTPURL, "smtp-url", "", "SMTP server: smtp://[user:pass@]host:port (production: required)")
		fs.StringVar(&c.MailFrom, "mail-from", "cruxd <no-reply@localhost>", "From address of mails")
		fs.Var(&c.TrustedProxies, "trusted-proxy", "CIDR of a proxy whose X-Forwarded-For is believed (repeat or comma-separate)")
		fs.IntVar(&c.IPv6Prefix, "ipv6-prefix", httpapi.DefaultIPv6Prefix, "per-client limits count an IPv6 client by this many leading bits of its address (128: each address apart)")
		fs.BoolVar(&c.Limits, "limits", false, "apply the abuse limits (always on in production)")
		l, d := &c.LimitValues, account.ProductionLimits
		fs.IntVar(&l.ResetMailsPerAddressHour, "limit-reset-mails", d.ResetMailsPerAddressHour, "limit: reset mails sent to one address an hour (0: no limit)")
		fs.IntVar(&l.ResetCallsPerIPMinute, "limit-reset-calls", d.ResetCallsPerIPMinute, "limit: Reset Password calls from one client IP a minute (0: no limit)")
		fs.IntVar(&l.LoginCallsPerIPMinute, "limit-login-calls", d.LoginCallsPerIPMinute, "limit: logins, right or wrong, from one client IP a minute (0: no limit)")
		fs.IntVar(&l.FailedLoginsPerIPMinute, "limit-login-ip", d.FailedLoginsPerIPMinute, "limit: failed logins from one client IP a minute (0: no limit)")
		fs.IntVar(&l.FailedLoginsPerUserIP, "limit-login-account", d.FailedLoginsPerUserIP, "limit: failed logins for one username from one client IP in 15 minutes (0: no limit)")
		fs.IntVar(&l.FailedLoginsPerUserHour, "limit-login-account-hour", d.FailedLoginsPerUserHour, "limit: failed logins for one username an hour from client IPs that did not log in to it (0: no limit)")
		fs.DurationVar(&c.MailLease, "mail-lease", account.OutboxLease, "how long a mail being sent is leased, renewed every third of it while the sender lives: a mail whose sender died is sent again after it (1s at least)")
		fs.IntVar(&c.SMTPConnections, "smtp-connections", defaultSMTPConnections, "SMTP connections the mail worker sends over at once, each kept open for the next mail")
		fs.DurationVar(&c.MailRetryMin, "mail-retry-min", account.DefaultMailRetryMin, "wait before retrying a failed mail, doubled each time up to 1h; retried for 24h (lower it for tests)")
		fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight requests may finish after SIGTERM")
		fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "loopback host:port to serve /metrics (Prometheus) on, a listener apart from the API's, e.g. 127.0.0.1:9090; off when empty")
		fs.StringVar(&c.PprofAddr, "pprof-addr", "", "loopback host:port to serve runtime profiles (net/http/pprof) on; off when empty")
		fs.StringVar(&c.ProductName, "product-name", "cruxd", "product name shown in the pages and mails")
		fs.StringVar(&c.SupportEmail, "support-email", "", "an address users may write to, shown in the pages and mails (none when empty)")
		fs.StringVar(&c.MailTemplates, "mail-templates", "", "a directory of mail templates replacing the embedded ones of the same name (docs/deploy.md lists them and their variables)")
		fs.StringVar(&c.ReturnURL, "return-url", "", "the app's URL, linked from the reset pages once the password changed")
		fs.DurationVar(&c.PurgeInterval, "purge-interval", time.Hour, "how often the server purges what ended (as `cruxd purge`), in short transactions between requests (0: never)")
		fs.DurationVar(&c.PurgeRetention, "purge-retention", 7*24*time.Hour, "periodic purge: keep spent or expired tokens, finished mails and limit windows this long after they ended (1h at least)")
		fs.DurationVar(&c.PurgeAuditRetention, "purge-audit-retention", 365*24*time.Hour, "periodic purge: keep audit events this long (1h at least)")
		fs.DurationVar(&c.ReadTimeout, "read-timeout", 10*time.Second, "how long a client may take to send a request's headers, and its whole request")
	}
	fs.Usage = usageFunc(fs, name, stderr)
	return fs
}

// parseFlags applies args to fs, then the environment and the config file
// to the flags args left unset (applySources).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return applySources(fs, getenv)
}

// validateService checks the flags of every command that runs the Service.
func (c *config) validateService() error {
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("%w: --log-format must be text or json", errUsage)
	}
	if _, err := c.passwordPolicy(); err != nil {
		return fmt.Errorf("%w: --min-password-length: %v", errUsage, err)
	}
	return nil
}

// passwordPolicy is the policy of the mode with --min-password-length (the
// admin commands, which have no --mode, take production's).
func (c *config) passwordPolicy() (password.Policy, error) {
	return password.PolicyFor(account.Mode(c.Mode) == account.Sandbox, c.MinPasswordLen)
}

// serviceConfig returns the Service settings of c, for serve and the admin
// commands alike; obs may be nil.
func (c *config) serviceConfig(obs account.Observer) account.Config {
	mode := account.Mode(c.Mode)
	return account.Config{
		Mode:            mode,
		ResetTTL:        c.ResetTTL,
		AuthTTL:         c.AuthTTL,
		HashConcurrency: c.HashConcurrency,
		HashWait:        c.HashWait,
		Limits:          account.LimitsInForce(mode, c.Limits, c.LimitValues),
		Mail:            c.SMTPURL != "",
		MailRetryMin:    c.MailRetryMin,
		MailLease:       c.MailLease,
		MailSenders:     sendersPerConnection * c.SMTPConnections,
		Observer:        obs,
	}
}

// mailLook is what the mails are branded with.
func (c *config) mailLook() mail.Look {
	return mail.Look{PublicURL: c.PublicURL, Product: c.ProductName, Support: c.SupportEmail, TemplateDir: c.MailTemplates}
}

// validate checks what serve needs before it touches anything.
func (c *config) validate() error {
	if err := c.validateService(); err != nil {
		return err
	}
	switch account.Mode(c.Mode) {
	case account.Sandbox:
		if host, _, err := net.SplitHostPort(c.Addr); !c.SandboxPublic && (err != nil || !isLoopback(host)) {
			return fmt.Errorf("%w: sandbox hands out reset tokens to whoever asks, so it listens on loopback only and --addr %q is not; "+
				"use --mode production, or --sandbox-public to expose the sandbox anyway", errUsage, c.Addr)
		}
	case account.Production:
		if c.PublicURL == "" || c.SMTPURL == "" {
			return fmt.Errorf("%w: production needs --public-url and --smtp-url", errUsage)
		}
	default:
		return fmt.Errorf("%w: --mode must be sandbox or production, not %q", errUsage, c.Mode)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("%w: --public-url must be an absolute http(s) URL", errUsage)
		}
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			return fmt.Errorf("%w: --public-url must use https unless its host is loopback", errUsage)
		}
	}
	if c.PurgeInterval < 0 || c.PurgeInterval > 0 && (c.PurgeRetention < time.Hour || c.PurgeAuditRetention < time.Hour) {
		return fmt.Errorf("%w: --purge-interval must not be negative, the purge retentions at least 1h", errUsage)
	}
	if c.ReturnURL != "" {
		u, err := url.Parse(c.ReturnURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("%w: --return-url must be an absolute http(s) URL", errUsage)
		}
	}
	if c.SupportEmail != "" {
		if a, err := netmail.ParseAddress(c.SupportEmail); err != nil || a.Name != "" {
			return fmt.Errorf("%w: --support-email must be a bare e-mail address", errUsage)
		}
	}
	if c.MailTemplates != "" && c.SMTPURL == "" {
		return fmt.Errorf("%w: --mail-templates needs --smtp-url: without it no mail is sent", errUsage)
	}
	if c.SMTPURL != "" {
		if c.PublicURL == "" {
			return fmt.Errorf("%w: --smtp-url needs --public-url for the links in mails", errUsage)
		}
		if _, err := mail.NewSMTP(c.SMTPURL, c.MailFrom, c.mailLook()); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	if c.MailLease < time.Second {
		return fmt.Errorf("%w: --mail-lease must be at least 1s", errUsage)
	}
	if c.MailRetryMin <= 0 {
		return fmt.Errorf("%w: --mail-retry-min must be positive", errUsage)
	}
	if c.SMTPConnections < 1 || c.SMTPConnections > 64 {
		return fmt.Errorf("%w: --smtp-connections must be from 1 to 64", errUsage)
	}
	if l := c.LimitValues; min(l.ResetMailsPerAddressHour, l.ResetCallsPerIPMinute, l.LoginCallsPerIPMinute, l.FailedLoginsPerIPMinute, l.FailedLoginsPerUserIP, l.FailedLoginsPerUserHour) < 0 {
		return fmt.Errorf("%w: a --limit-* flag is negative", errUsage)
	}
	if c.IPv6Prefix < 1 || c.IPv6Prefix > 128 {
		return fmt.Errorf("%w: --ipv6-prefix must be 1 to 128", errUsage)
	}
	if err := checkLoopbackAddr("--pprof-addr", c.PprofAddr); err != nil {
		return err
	}
	if err := checkLoopbackAddr("--metrics-addr", c.MetricsAddr); err != nil {
		return err
	}
	if c.ReadTimeout <= 0 {
		return fmt.Errorf("%w: --read-timeout must be positive", errUsage)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// cidrList is a repeatable, comma-separable list of CIDR prefixes.
type cidrList []netip.Prefix

func (l *cidrList) String() string {
	s := make([]string, len(*l))
	for i, p := range *l {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l *cidrList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return err
		}
		*l = append(*l, p.Masked())
	}
	return nil
}
