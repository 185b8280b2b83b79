package main

// cruxbench mail: how fast cruxd's outbox delivers into a local Mailpit,
// next to a bare go-mail client with as many connections into the same
// Mailpit, in alternating rounds; and Reset Password's latency at a fixed
// rate while the mails of those requests flow.
//
//	go run ./cmd/cruxbench mail [-conns 4] [-duration 60s] [-rounds 2]
//	                            [-db postgres://…] [-procs 1] [-rate 1000] …

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/cruxd/cruxd/internal/account"
	"github.com/cruxd/cruxd/internal/mail"
)

// mailOptions are the flags of cruxbench mail.
type mailOptions struct {
	Conns         int
	Procs         int
	Duration      time.Duration
	Warmup        time.Duration
	Rounds        int
	Users         int
	Backlog       int
	DB            string
	Cruxd         string
	Mailpit       string
	Rate          int
	FixedDuration time.Duration
	Out           string
	Keep          bool
	PprofDir      string
}

func parseMailOptions(args []string, stderr io.Writer) (*mailOptions, error) {
	o := &mailOptions{}
	fs := flag.NewFlagSet("cruxbench mail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Conns, "conns", 4, "SMTP connections of the bare client, and of cruxd (--smtp-connections, split among -procs)")
	fs.IntVar(&o.Procs, "procs", 1, "cruxd processes sharing the database (PostgreSQL only when > 1)")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "length of each measured delivery window")
	fs.DurationVar(&o.Warmup, "warmup", 3*time.Second, "time before each window that is not counted")
	fs.IntVar(&o.Rounds, "rounds", 2, "alternating rounds, each bare then cruxd")
	fs.IntVar(&o.Users, "users", 100_000, "users loaded into the database")
	fs.IntVar(&o.Backlog, "backlog", 0, "reset mails queued before each cruxd round (0: 4,000 a second of -duration and -warmup)")
	fs.StringVar(&o.DB, "db", "", "PostgreSQL server DSN (postgres://…) to create a temporary database on; empty: a temporary SQLite file")
	fs.StringVar(&o.Cruxd, "cruxd", "", "cruxd binary to run; empty: build ./cmd/cruxd into a temporary directory")
	fs.StringVar(&o.Mailpit, "mailpit", "mailpit", "mailpit binary")
	fs.IntVar(&o.Rate, "rate", 1000, "fixed rate (req/s) of Reset Password while its mails flow (0: skip)")
	fs.DurationVar(&o.FixedDuration, "fixed-duration", 30*time.Second, "length of the fixed-rate attack")
	fs.StringVar(&o.Out, "out", "", "also write the markdown report to this file")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (database, logs)")
	fs.StringVar(&o.PprofDir, "pprof-dir", "", "if set, save a CPU profile of the first cruxd process over each window here")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.Conns < 1 || o.Procs < 1 || o.Conns%o.Procs != 0:
		return nil, errors.New("-conns must be a positive multiple of -procs")
	case o.Procs > 1 && o.DB == "":
		return nil, errors.New("-procs > 1 needs -db: SQLite has one writer, in one process")
	case o.Rounds < 1 || o.Duration <= 0 || o.Users < 100:
		return nil, errors.New("-rounds, -duration must be positive, -users at least 100")
	}
	if o.Backlog <= 0 {
		o.Backlog = int(4000 * (o.Duration + o.Warmup).Seconds())
	}
	return o, nil
}

// mailRound is one measured delivery window.
type mailRound struct {
	rate float64 // mails/s accepted by Mailpit
	load string  // load average when the window ended
	left int     // cruxd: outbox messages still pending at the end
	size int     // bytes of the last mail Mailpit received
	cpu  float64 // ms of CPU per mail of the sender: cruxbench's own (bare) or the cruxd processes'
	mpit float64 // ms of CPU per mail of Mailpit
}

// cpuMeter reads the CPU time of processes over a window.
type cpuMeter struct {
	pids   []int
	before []procUsage
}

func meterCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids}
	for _, p := range pids {
		m.before = append(m.before, readUsage(p))
	}
	return m
}

// perMail returns the CPU time the processes used since meterCPU, in ms
// per mail of n.
func (m *cpuMeter) perMail(n float64) float64 {
	var d time.Duration
	for i, p := range m.pids {
		u := readUsage(p).sub(m.before[i])
		d += u.user + u.sys
	}
	if n <= 0 {
		return 0
	}
	return float64(d) / 1e6 / n
}

// lastSize returns the size of the last mail Mailpit received, as Mailpit
// counts it (0 if it cannot tell).
func (b *mailBench) lastSize() int {
	resp, err := http.Get("http://" + b.mpHTTP + "/api/v1/messages?limit=1")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var page struct{ Messages []struct{ Size int } }
	if json.NewDecoder(resp.Body).Decode(&page) != nil || len(page.Messages) == 0 {
		return 0
	}
	return page.Messages[0].Size
}

type mailBench struct {
	o       *mailOptions
	dir     string
	cruxd   string
	smtp    string // Mailpit's host:port
	mpHTTP  string // Mailpit's API host:port
	mailpit *exec.Cmd
	db      *database
	users   int
	procs   []*process
	metrics []string // the processes' /metrics URLs
	pprof   string   // the first process's --pprof-addr, with -pprof-dir
	windows int      // windows profiled so far
}

// profile saves a CPU profile of the first cruxd process over the next d,
// with -pprof-dir; wait waits for it.
func (b *mailBench) profile(d time.Duration) (wait func()) {
	if b.pprof == "" {
		return func() {}
	}
	b.windows++
	file := filepath.Join(b.o.PprofDir, fmt.Sprintf("mail-cruxd-%d.pprof", b.windows))
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.pprof, int(d.Seconds())))
		if err != nil {
			logf("pprof: %v", err)
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			logf("pprof: %v", err)
		}
	}()
	return func() { <-done }
}

func runMail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseMailOptions(args, stderr)
	if err != nil {
		return err
	}
	b := &mailBench{o: o}
	if b.dir, err = os.MkdirTemp("", "cruxbench-mail-"); err != nil {
		return err
	}
	if o.PprofDir != "" {
		if err := os.MkdirAll(o.PprofDir, 0o755); err != nil {
			return err
		}
	}
	if !o.Keep {
		defer os.RemoveAll(b.dir)
	} else {
		logf("keeping %s", b.dir)
	}
	if b.cruxd = o.Cruxd; b.cruxd == "" {
		logf("building cruxd")
		if b.cruxd, err = buildCruxd(b.dir); err != nil {
			return err
		}
	}
	if err := b.startMailpit(); err != nil {
		return err
	}
	defer b.stopMailpit()
	if o.DB != "" {
		b.db, err = createPostgresDatabase(ctx, o.DB)
		if err != nil {
			return err
		}
		defer b.db.drop()
	} else {
		b.db = &database{dsn: filepath.Join(b.dir, "cruxd.db")}
	}
	st, err := b.db.open(ctx)
	if err != nil {
		return err
	}
	_, err = loadUsers(ctx, st, o.Users, 10_000)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	b.users = o.Users
	defer b.stopCruxd()

	// First, while the outbox is empty.
	var fixed *stats
	// First, while the outbox is empty.
	var fixedMail mailRound
	if o.Rate > 0 && ctx.Err() == nil {
		if fixed, fixedMail, err = b.fixedRound(ctx); err != nil {
			return fmt.Errorf("fixed-rate round: %w", err)
		}
	}
	var bare, crux []mailRound
	for i := range o.Rounds {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := b.bareRound(ctx)
		if err != nil {
			return fmt.Errorf("bare round %d: %w", i+1, err)
		}
		logf("round %d: bare go-mail %.0f mails/s (load %s)", i+1, r.rate, r.load)
		bare = append(bare, r)
		if r, err = b.cruxdRound(ctx); err != nil {
			return fmt.Errorf("cruxd round %d: %w", i+1, err)
		}
		logf("round %d: cruxd outbox %.0f mails/s, %d left pending (load %s)", i+1, r.rate, r.left, r.load)
		crux = append(crux, r)
	}
	rep := b.mailReport(bare, crux, fixed, fixedMail)
	fmt.Fprint(stdout, rep)
	if o.Out != "" {
		return os.WriteFile(o.Out, []byte(rep), 0o644)
	}
	return nil
}

// startMailpit starts a private Mailpit on free loopback ports and waits
// until it answers SMTP.
func (b *mailBench) startMailpit() error {
	b.smtp, b.mpHTTP = freeAddr(), freeAddr()
	cmd := exec.Command(b.o.Mailpit, "--smtp", b.smtp, "--listen", b.mpHTTP,
		"--database", filepath.Join(b.dir, "mailpit.db"), "--disable-version-check")
	logFile, err := os.Create(filepath.Join(b.dir, "mailpit.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mailpit (-mailpit): %w", err)
	}
	b.mailpit = cmd
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", b.smtp, time.Second); err == nil {
			c.Close()
			logf("mailpit pid %d on smtp://%s", cmd.Process.Pid, b.smtp)
			return nil
		}
	}
	b.stopMailpit()
	return errors.New("mailpit did not listen within 30s")
}

func (b *mailBench) stopMailpit() {
	if b.mailpit != nil && b.mailpit.Process != nil {
		b.mailpit.Process.Kill()
		b.mailpit.Wait()
		b.mailpit = nil
	}
}

// bareMail is what the bare client sends: cruxd's reset mail, rendered
// once by cruxd's own templates.
type bareMail struct{ subject, text, html string }

func renderBareMail() (*bareMail, error) {
	s, err := mail.NewSMTP("smtp://127.0.0.1:25", "cruxd <no-reply@bench.cruxd.test>", mail.Look{PublicURL: "http://127.0.0.1:8080", Product: "cruxd"})
	if err != nil {
		return nil, err
	}
	m := account.Mail{Kind: account.MailReset, To: userEmail(0), FirstName: "Bench", Token: "G7TwCq1Vkds0DLYnfAuP",
		CancelToken: "Xc4nCe1ToKeN00000042", TokenTTL: account.DefaultResetTTL, At: time.Now(),
		Meta: account.Meta{IP: "127.0.0.1", UserAgent: "cruxbench"}, MessageID: strings.Repeat("0", 32)}
	var bm bareMail
	bm.subject, bm.text, bm.html, err = s.Render(m)
	return &bm, err
}

// msg builds the i-th mail the way a go-mail client builds one: the
// headers cruxd sets, a text part and an HTML alternative.
func (bm *bareMail) msg(i int) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	if err := m.From("cruxd <no-reply@bench.cruxd.test>"); err != nil {
		return nil, err
	}
	if err := m.AddToFormat("Bench", userEmail(i)); err != nil {
		return nil, err
	}
	m.Subject(bm.subject)
	m.SetMessageID()
	m.SetDate()
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetBodyString(gomail.TypeTextPlain, bm.text)
	m.AddAlternativeString(gomail.TypeTextHTML, bm.html)
	return m, nil
}

// bareRound sends as fast as -conns go-mail clients can, each over one
// connection kept open, and counts the mails accepted within the window.
func (b *mailBench) bareRound(ctx context.Context) (mailRound, error) {
	bm, err := renderBareMail()
	if err != nil {
		return mailRound{}, err
	}
	host, port, _ := net.SplitHostPort(b.smtp)
	p, _ := strconv.Atoi(port)
	start := time.Now().Add(b.o.Warmup)
	end := start.Add(b.o.Duration)
	var meter atomic.Pointer[[2]*cpuMeter]
	go func() {
		sleep(ctx, b.o.Warmup)
		meter.Store(&[2]*cpuMeter{meterCPU(os.Getpid()), meterCPU(b.mailpit.Process.Pid)})
	}()
	var n atomic.Int64
	var next atomic.Int64
	errs := make(chan error, b.o.Conns)
	var wg sync.WaitGroup
	for range b.o.Conns {
		wg.Go(func() {
			c, err := gomail.NewClient(host, gomail.WithPort(p), gomail.WithTLSPolicy(gomail.TLSOpportunistic),
				gomail.WithTimeout(10*time.Second))
			if err == nil {
				err = c.DialWithContext(ctx)
			}
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for now := time.Now(); now.Before(end) && ctx.Err() == nil; now = time.Now() {
				m, err := bm.msg(int(next.Add(1)) % b.users)
				if err != nil {
					errs <- err
					return
				}
				if err := c.Send(m); err != nil {
					errs <- err
					return
				}
				if t := time.Now(); t.After(start) && t.Before(end) {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return mailRound{}, err
	}
	r := mailRound{rate: float64(n.Load()) / b.o.Duration.Seconds(), load: loadAverage(), size: b.lastSize()}
	if m := meter.Load(); m != nil {
		r.cpu, r.mpit = m[0].perMail(float64(n.Load())), m[1].perMail(float64(n.Load()))
	}
	return r, nil
}

// enqueue queues n reset mails to random loaded users, as Reset Password
// does in production.
func (b *mailBench) enqueue(ctx context.Context, n int) error {
	st, err := b.db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	for lo := 0; lo < n; lo += 10_000 {
		err := st.Update(ctx, func(tx account.Tx) error {
			for range min(10_000, n-lo) {
				m := &account.OutboxMessage{Kind: account.MailReset, To: userEmail(mrand.IntN(b.users)),
					Meta: account.Meta{IP: "127.0.0.1", UserAgent: "cruxbench"}, CreatedAt: now}
				if err := tx.EnqueueMail(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("enqueue mail: %w", err)
		}
	}
	return nil
}

// startCruxd starts -procs production cruxd processes on the database,
// mailing into Mailpit with the abuse limits off.
func (b *mailBench) startCruxd() error {
	for i := range b.o.Procs {
		maddr := freeAddr()
		args := []string{"serve", "--db", b.db.dsn, "--addr", "127.0.0.1:0", "--mode", "production",
			"--public-url", "http://127.0.0.1:8080", "--smtp-url", "smtp://" + b.smtp,
			"--mail-from", "cruxd <no-reply@bench.cruxd.test>",
			"--smtp-connections", strconv.Itoa(b.o.Conns / b.o.Procs), "--metrics-addr", maddr,
			"--limit-reset-mails", "0", "--limit-reset-calls", "0"}
		if i == 0 && b.o.PprofDir != "" {
			b.pprof = freeAddr()
			args = append(args, "--pprof-addr", b.pprof)
		}
		p, err := startProcess(b.cruxd, args, nil, filepath.Join(b.dir, fmt.Sprintf("cruxd%d.log", i)))
		if err != nil {
			return err
		}
		logf("cruxd pid %d at %s, metrics %s", p.pid(), p.url, maddr)
		b.procs = append(b.procs, p)
		b.metrics = append(b.metrics, "http://"+maddr+"/metrics")
	}
	return nil
}

func (b *mailBench) stopCruxd() {
	for _, p := range b.procs {
		p.stop()
	}
	b.procs, b.metrics = nil, nil
}

// scrape sums the mails sent (any kind) over the processes' /metrics and
// reads the pending count (-1 when the store did not answer the scrape in
// time, as a count over a backlog of many rows may not under load).
func (b *mailBench) scrape() (sent float64, pending int, err error) {
	pending = -1
	for _, u := range b.metrics {
		resp, err := http.Get(u)
		if err != nil {
			return 0, 0, err
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			v, _ := strconv.ParseFloat(f[1], 64)
			switch {
			case strings.HasPrefix(line, "cruxd_mails_total{") && strings.Contains(line, `outcome="sent"`):
				sent += v
			case f[0] == "cruxd_mails_pending":
				pending = int(v)
			}
		}
		resp.Body.Close()
	}
	return sent, pending, nil
}

// cruxdRound queues a backlog, starts cruxd and counts the mails its
// outbox sends within the window.
func (b *mailBench) cruxdRound(ctx context.Context) (mailRound, error) {
	if err := b.enqueue(ctx, b.o.Backlog); err != nil {
		return mailRound{}, err
	}
	if err := b.startCruxd(); err != nil {
		return mailRound{}, err
	}
	defer b.stopCruxd()
	sleep(ctx, b.o.Warmup)
	s0, _, err := b.scrape()
	if err != nil {
		return mailRound{}, err
	}
	t0 := time.Now()
	var pids []int
	for _, p := range b.procs {
		pids = append(pids, p.pid())
	}
	sender, mpit := meterCPU(pids...), meterCPU(b.mailpit.Process.Pid)
	profiled := b.profile(b.o.Duration)
	sleep(ctx, b.o.Duration)
	s1, pending, err := b.scrape()
	profiled()
	if err != nil {
		return mailRound{}, err
	}
	r := mailRound{rate: (s1 - s0) / time.Since(t0).Seconds(), load: loadAverage(), left: pending, size: b.lastSize(),
		cpu: sender.perMail(s1 - s0), mpit: mpit.perMail(s1 - s0)}
	if pending == 0 {
		logf("warning: the backlog ran out within the window: raise -backlog")
	}
	if pending < 0 {
		logf("warning: cruxd's store did not answer the scrape's pending count in time")
	}
	return r, nil
}

// fixedRound drives Reset Password at -rate on a cruxd whose outbox is
// empty at the start: every request queues a mail that flows meanwhile.
func (b *mailBench) fixedRound(ctx context.Context) (*stats, mailRound, error) {
	if err := b.startCruxd(); err != nil {
		return nil, mailRound{}, err
	}
	defer b.stopCruxd()
	s0, _, err := b.scrape()
	if err != nil {
		return nil, mailRound{}, err
	}
	t0 := time.Now()
	base := b.procs[0].url
	st := runAttack(attackSpec{
		name: "reset-with-mail", rate: b.o.Rate, workers: 256, duration: b.o.FixedDuration, timeout: 10 * time.Second,
		targeter: targeter{base, func(r *hreq) error {
			*r = hreq{method: "POST", path: pathReset, body: appendResetBody(r.body[:0], mrand.IntN(b.users))}
			return nil
		}},
	}, b.procs[0].pid())
	s1, pending, err := b.scrape()
	if err != nil {
		return nil, mailRound{}, err
	}
	m := mailRound{rate: (s1 - s0) / time.Since(t0).Seconds(), load: loadAverage(), left: pending}
	logf("Reset Password at %d req/s: %.0f req/s ok, p99 %s; mail %.0f/s, %d pending at the end (load %s)",
		b.o.Rate, st.throughput(), ms(st.quantile(0.99)), m.rate, m.left, m.load)
	return st, m, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (b *mailBench) mailReport(bare, crux []mailRound, fixed *stats, fm mailRound) string {
	var w strings.Builder
	store := "SQLite"
	if b.db.postgres {
		store = "PostgreSQL"
	}
	fmt.Fprintf(&w, "## Mail: cruxd's outbox next to a bare go-mail client\n\n")
	fmt.Fprintf(&w, "Machine: %s\n\n", machine(b.dir))
	fmt.Fprintf(&w, "Store %s, %d cruxd process(es), %d SMTP connections in all, one Mailpit on loopback; "+
		"%v windows after %v of warm-up, bare and cruxd alternating.\n\n", store, b.o.Procs, b.o.Conns, b.o.Duration, b.o.Warmup)
	fmt.Fprintf(&w, "Mail size as Mailpit counts it: bare %d bytes, cruxd %d bytes.\n\n", bare[0].size, crux[0].size)
	fmt.Fprintf(&w, "| round | bare go-mail (mails/s) | load | cruxd outbox (mails/s) | load | still pending | ratio | CPU ms/mail: bare, its Mailpit, cruxd, its Mailpit |\n")
	fmt.Fprintf(&w, "|---|---|---|---|---|---|---|---|\n")
	var ratios []float64
	for i := range bare {
		ratio := crux[i].rate / bare[i].rate
		ratios = append(ratios, ratio)
		fmt.Fprintf(&w, "| %d | %.0f | %s | %.0f | %s | %d | %.2f× | %.2f, %.2f, %.2f, %.2f |\n", i+1, bare[i].rate, bare[i].load,
			crux[i].rate, crux[i].load, crux[i].left, ratio, bare[i].cpu, bare[i].mpit, crux[i].cpu, crux[i].mpit)
	}
	slices.Sort(ratios)
	median := (ratios[(len(ratios)-1)/2] + ratios[len(ratios)/2]) / 2
	fmt.Fprintf(&w, "\nRatio cruxd/bare: median %.2f×, range %.2f–%.2f×.\n", median, ratios[0], ratios[len(ratios)-1])
	if fixed != nil {
		fmt.Fprintf(&w, "\nReset Password at a fixed %d req/s for %v while its mails flow: %.0f req/s answered 2xx, "+
			"p50 %s, p99 %s, max %s; errors: %s. Mail delivered meanwhile: %.0f/s, %d pending at the end (load %s).\n",
			b.o.Rate, b.o.FixedDuration, fixed.throughput(), ms(fixed.quantile(0.5)), ms(fixed.quantile(0.99)),
			ms(fixed.max()), fixed.errorSummary(), fm.rate, fm.left, fm.load)
	}
	return w.String()
}
