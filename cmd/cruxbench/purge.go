package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// purgeResult is `cruxd purge` run under Reset Password traffic.
type purgeResult struct {
	what    string // what purged
	took    time.Duration
	tokens  int    // reset tokens it reported purged
	output  string // its stdout and stderr, for an error
	err     error
	traffic *stats // Reset Password at -rate while it ran
}

var purgedTokens = regexp.MustCompile(`purged (\d+) spent or expired reset tokens`)

// measurePurge runs `cruxd purge --retention 1h` on the database cruxd
// serves while Reset Password runs at the fixed rate, and reports how long
// the purge took and what the traffic saw meanwhile.
func (b *bench) measurePurge(reset *endpoint) *purgeResult {
	r := &purgeResult{what: "`cruxd purge`"}
	stop := make(chan struct{})
	statsc := make(chan *stats, 1)
	go func() {
		statsc <- runAttack(attackSpec{name: "purge", targeter: reset.targeter(b.proc.url, false), rate: b.o.Rate,
			workers: 1000, duration: b.o.PurgeMax, timeout: 10 * time.Second, stop: stop}, b.proc.pid())
	}()
	time.Sleep(time.Second) // traffic first, then the purge
	logf("cruxd purge --retention 1h under Reset Password at %d/s", b.o.Rate)
	cmd := exec.Command(b.cruxd, "purge", "--db", b.db.dsn, "--retention", "1h")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t := time.Now()
	r.err = cmd.Start()
	if r.err == nil {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case r.err = <-done:
		case <-time.After(b.o.PurgeMax):
			cmd.Process.Kill()
			<-done
			r.err = fmt.Errorf("purge still running after %v: killed", b.o.PurgeMax)
		}
	}
	r.took = time.Since(t)
	close(stop)
	r.traffic = <-statsc
	r.output = out.String()
	if m := purgedTokens.FindStringSubmatch(r.output); m != nil {
		r.tokens, _ = strconv.Atoi(m[1])
	}
	logf("  purge took %v (%d reset tokens), err %v; traffic p99 %v max %v errors %s", r.took, r.tokens, r.err,
		r.traffic.quantile(0.99), r.traffic.max(), r.traffic.errorSummary())
	return r
}

// purgeSoonArgs make cruxd serve start its periodic purge after a second.
var purgeSoonArgs = []string{"--purge-interval", "1s", "--purge-retention", "1h"}

var serverPurged = regexp.MustCompile(`msg=purged took=(\S+) reset_tokens=(\d+)`)

// measureServerPurge restarts cruxd with its periodic purge due after a
// second (serve --purge-interval 1s --purge-retention 1h) and reports its
// first run, read from cruxd's log, with Reset Password at the fixed rate
// meanwhile.
func (b *bench) measureServerPurge(reset *endpoint) *purgeResult {
	r := &purgeResult{what: "cruxd serve --purge-interval"}
	b.proc.stop()
	logStart := fileSize(b.log)
	b.serveArgs = purgeSoonArgs
	defer func() { b.serveArgs = nil }()
	if r.err = b.startCruxd(b.db); r.err != nil {
		return r
	}
	stop := make(chan struct{})
	statsc := make(chan *stats, 1)
	go func() {
		statsc <- runAttack(attackSpec{name: "purge", targeter: reset.targeter(b.proc.url, false), rate: b.o.Rate,
			workers: 1000, duration: b.o.PurgeMax, timeout: 10 * time.Second, stop: stop}, b.proc.pid())
	}()
	logf("cruxd's own purge (--purge-interval 1s) under Reset Password at %d/s", b.o.Rate)
	t := time.Now()
	var m []string
	for m == nil && time.Since(t) < b.o.PurgeMax {
		time.Sleep(200 * time.Millisecond)
		m = serverPurged.FindStringSubmatch(fileTail(b.log, logStart))
	}
	close(stop)
	r.traffic = <-statsc
	if m == nil {
		// Not done within -purge-max: stopping cruxd cancels the purge,
		// which then logs what it deleted so far.
		b.proc.stop()
		if m = serverPurged.FindStringSubmatch(fileTail(b.log, logStart)); m == nil {
			r.err = fmt.Errorf("no purge logged within %v", b.o.PurgeMax)
			return r
		}
		r.what += fmt.Sprintf(" (stopped after %v, projected)", b.o.PurgeMax)
	}
	r.took, _ = time.ParseDuration(m[1])
	r.tokens, _ = strconv.Atoi(m[2])
	r.output = m[0]
	logf("  purge took %v (%d reset tokens), err %v; traffic p99 %v max %v errors %s", r.took, r.tokens, r.err,
		r.traffic.quantile(0.99), r.traffic.max(), r.traffic.errorSummary())
	return r
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// fileTail returns the file from offset on ("" on an error).
func fileTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
