package clustertest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// opResult is one statement a load client ran.
type opResult struct {
	worker     int
	start, end time.Time
	err        error
}

// opLog records every statement of a load, in the order they ended.
type opLog struct {
	mu  sync.Mutex
	ops []opResult
}

func (l *opLog) add(r opResult) {
	l.mu.Lock()
	l.ops = append(l.ops, r)
	l.mu.Unlock()
}

// between returns the statements that started in [from, to).
func (l *opLog) between(from, to time.Time) (ok int, failed []opResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.ops {
		if r.start.Before(from) || !r.start.Before(to) {
			continue
		}
		if r.err == nil {
			ok++
		} else {
			failed = append(failed, r)
		}
	}
	return ok, failed
}

// firstOK returns the end of the first successful statement that started after t.
func (l *opLog) firstOK(after time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best time.Time
	for _, r := range l.ops {
		if r.err == nil && r.start.After(after) && (best.IsZero() || r.end.Before(best)) {
			best = r.end
		}
	}
	return best, !best.IsZero()
}

// longestPause returns the longest time in [from, to] with no statement succeeding: the
// gaps between the ends of successful statements, and from the bounds to them.
func (l *opLog) longestPause(from, to time.Time) time.Duration {
	l.mu.Lock()
	var ends []time.Time
	for _, r := range l.ops {
		if r.err == nil && r.end.After(from) && r.end.Before(to) {
			ends = append(ends, r.end)
		}
	}
	l.mu.Unlock()
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	prev, longest := from, time.Duration(0)
	for _, e := range append(ends, to) {
		longest = max(longest, e.Sub(prev))
		prev = e
	}
	return longest
}

// failedEndingAfter returns the failed statements that ended after t.
func (l *opLog) failedEndingAfter(t time.Time) []opResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []opResult
	for _, r := range l.ops {
		if r.err != nil && r.end.After(t) {
			out = append(out, r)
		}
	}
	return out
}

// errorsAfter returns the failed statements that started after t, per worker.
func (l *opLog) errorsAfter(t time.Time) map[int][]opResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int][]opResult{}
	for _, r := range l.ops {
		if r.err != nil && r.start.After(t) {
			out[r.worker] = append(out[r.worker], r)
		}
	}
	return out
}

func describe(ops []opResult, max int) string {
	var b strings.Builder
	for i, r := range ops {
		if i == max {
			fmt.Fprintf(&b, "… %d more\n", len(ops)-max)
			break
		}
		msg := r.err.Error()
		if len(msg) > 600 {
			msg = msg[:600] + "…"
		}
		fmt.Fprintf(&b, "worker %d at %v, failed after %v: %s\n", r.worker, r.start.Format("15:04:05.000"), r.end.Sub(r.start).Round(time.Millisecond), msg)
	}
	return b.String()
}

// notSent says whether err proves that the statement never reached the server (the
// connection could not be made), so it did not happen; any other error leaves its outcome
// unknown (a commit that stalled or whose connection broke may still take effect).
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// row is what the writers know about one row of ledger table t (id, v): the last value a
// commit acknowledged, and the values tried since whose outcome is unknown.
type row struct {
	acked   bool  // some statement on the row was acknowledged
	value   int64 // the value it left
	unknown []int64
}

// ledger records every write of the load, to check the table against at the end.
type ledger struct {
	mu      sync.Mutex
	rows    map[int64]*row
	acks    int
	unknown int
}

func newLedger() *ledger { return &ledger{rows: map[int64]*row{}} }

func (l *ledger) record(id, v int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rows[id]
	if r == nil {
		r = &row{}
		l.rows[id] = r
	}
	switch {
	case err == nil:
		r.acked, r.value, r.unknown = true, v, nil
		l.acks++
	case notSent(err):
	default:
		r.unknown = append(r.unknown, v)
		l.unknown++
	}
}

// writer inserts rows (id, 1) with ids worker*1e9+n and updates rows it inserted (v = the
// row's next value), one statement at a time, until ctx ends. Every statement is recorded
// in ops and its outcome in led.
func writer(ctx context.Context, db *sql.DB, worker int, led *ledger, ops *opLog) {
	rng := rand.New(rand.NewPCG(uint64(worker), 42))
	var mine []int64
	next := map[int64]int64{}
	n := int64(0)
	for ctx.Err() == nil {
		var id, v int64
		var q string
		if len(mine) == 0 || rng.IntN(2) == 0 {
			n++
			id, v = int64(worker)*1e9+n, 1
			q = "INSERT INTO t (id, v) VALUES (?, ?)"
		} else {
			id = mine[rng.IntN(len(mine))]
			next[id]++
			v = next[id]
			q = "UPDATE t SET v = ? WHERE id = ?"
		}
		start := time.Now()
		var err error
		if v == 1 {
			_, err = db.ExecContext(context.Background(), q, id, v)
		} else {
			_, err = db.ExecContext(context.Background(), q, v, id)
		}
		ops.add(opResult{worker: worker, start: start, end: time.Now(), err: err})
		led.record(id, v, err)
		if v == 1 {
			if err == nil {
				mine = append(mine, id)
			}
			next[id] = 1
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// startWriters runs n writers until the returned stop is called; stop may be called again.
func startWriters(db *sql.DB, n int, led *ledger, ops *opLog) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 1; w <= n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writer(ctx, db, w, led, ops)
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// verify checks table t against the ledger: every acknowledged write is there, and nothing
// that was never tried, nor a value that was never tried on its row.
func (l *ledger) verify(t *testing.T, db *sql.DB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	rows, err := db.Query("SELECT id, v FROM t")
	if err != nil {
		t.Fatalf("read the table: %v", err)
	}
	defer rows.Close()
	seen := map[int64]bool{}
	var bad []string
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		seen[id] = true
		r := l.rows[id]
		if r == nil {
			bad = append(bad, fmt.Sprintf("row %d (v=%d) was never written", id, v))
			continue
		}
		ok := r.acked && v == r.value
		for _, u := range r.unknown {
			ok = ok || v == u
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("row %d has v=%d; acknowledged %v %d, unknown outcomes %v", id, v, r.acked, r.value, r.unknown))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the table: %v", err)
	}
	var ids []int64
	for id, r := range l.rows {
		if r.acked && !seen[id] {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		bad = append(bad, fmt.Sprintf("acknowledged row %d (v=%d) is missing", id, l.rows[id].value))
	}
	if len(bad) > 0 {
		if len(bad) > 20 {
			bad = append(bad[:20], fmt.Sprintf("… %d more", len(bad)-20))
		}
		t.Fatalf("table does not match the acknowledged commits:\n%s", strings.Join(bad, "\n"))
	}
	t.Logf("verified %d rows: %d acknowledged statements, %d with an unknown outcome", len(seen), l.acks, l.unknown)
}
