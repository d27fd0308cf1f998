// Command rolag measures how far a read-only node's reads are behind the read-write node's
// commits, end to end, as a client sees it: it commits a one-row UPDATE on the RW, asks the RW
// for the session's commit LSN (STRATA_LAST_COMMIT_LSN), and asks the RO to wait for it
// (STRATA_WAIT_LSN); the lag is the time from the commit's acknowledgement to the RO's answer.
// Each probe is paired with a baseline measured the same way with an LSN the RO has already
// applied, which is the two round trips the probe costs with no lag at all. It prints one line
// of percentiles for each. bench/rolag.sh runs it beside sysbench.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

func main() {
	rwAddr := flag.String("rw", "127.0.0.1:3306", "the read-write node's MySQL address")
	roAddr := flag.String("ro", "", "the read-only node's MySQL address")
	rate := flag.Int("rate", 100, "probes per second")
	dur := flag.Duration("duration", 20*time.Second, "how long to probe")
	label := flag.String("label", "", "a label printed first on each line")
	flag.Parse()
	if err := run(*rwAddr, *roAddr, *rate, *dur, *label); err != nil {
		fmt.Fprintln(os.Stderr, "rolag:", err)
		os.Exit(1)
	}
}

func run(rwAddr, roAddr string, rate int, dur time.Duration, label string) error {
	ctx := context.Background()
	open := func(addr string) (*sql.Conn, error) {
		db, err := sql.Open("mysql", "root@tcp("+addr+")/?timeout=5s")
		if err != nil {
			return nil, err
		}
		return db.Conn(ctx)
	}
	rw, err := open(rwAddr)
	if err != nil {
		return err
	}
	ro, err := open(roAddr)
	if err != nil {
		return err
	}
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS rolag", "CREATE TABLE IF NOT EXISTS rolag.t (id INT PRIMARY KEY, v BIGINT)",
		"REPLACE INTO rolag.t VALUES (1, 0)"} {
		if _, err := rw.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	var lags, bases []time.Duration
	timeouts := 0
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		<-tick.C
		// Probe: a commit, then the RO's wait for it.
		if _, err := rw.ExecContext(ctx, "UPDATE rolag.t SET v = v + 1 WHERE id = 1"); err != nil {
			return err
		}
		t0 := time.Now()
		var lsn, applied uint64
		if err := rw.QueryRowContext(ctx, "SELECT STRATA_LAST_COMMIT_LSN()").Scan(&lsn); err != nil {
			return err
		}
		if err := ro.QueryRowContext(ctx, "SELECT STRATA_WAIT_LSN(?, 2)", lsn).Scan(&applied); err != nil {
			return err
		}
		if applied < lsn {
			timeouts++
			continue
		}
		lags = append(lags, time.Since(t0))
		// Baseline: the same two round trips, for a position the RO has.
		t0 = time.Now()
		if err := rw.QueryRowContext(ctx, "SELECT STRATA_LAST_COMMIT_LSN()").Scan(&lsn); err != nil {
			return err
		}
		if err := ro.QueryRowContext(ctx, "SELECT STRATA_WAIT_LSN(?, 2)", 1).Scan(&applied); err != nil {
			return err
		}
		bases = append(bases, time.Since(t0))
	}
	fmt.Printf("%s\tlag\t%s\ttimeouts %d\n", label, pct(lags), timeouts)
	fmt.Printf("%s\tbaseline\t%s\n", label, pct(bases))
	return nil
}

// pct formats the count, p50, p90, p99 and max of ds in milliseconds.
func pct(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n 0"
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		i := int(p * float64(len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	return fmt.Sprintf("n %d\tp50 %.2f\tp90 %.2f\tp99 %.2f\tmax %.2f ms", len(ds), at(0.5), at(0.9), at(0.99),
		float64(ds[len(ds)-1].Microseconds())/1000)
}
