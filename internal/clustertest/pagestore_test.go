package clustertest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// padOf is the 1000-byte value of row id: its id and a hash of it, repeated, so that a wrong
// row is seen. The hash makes each row's bytes unlike its neighbour's, so that its redo is
// about its size (an insert is logged as a delta of the cell beside it when that is smaller):
// tests count on the log growing by what they load.
func padOf(id int) string {
	s := fmt.Sprintf("%08d|%x|", id, sha256.Sum256([]byte(strconv.Itoa(id))))
	return strings.Repeat(s, 1000/len(s)+1)[:1000]
}

// loadRows fills table r (id, v = 7*id, pad) with ids [0, n), in statements of batch rows,
// from several connections at once.
func loadRows(t *testing.T, db *sql.DB, n, batch int) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Value
	next := atomic.Int64{}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(batch))) - batch
				if lo >= n || failed.Load() != nil {
					return
				}
				hi := min(lo+batch, n)
				var q strings.Builder
				q.WriteString("INSERT INTO r (id, v, pad) VALUES ")
				args := make([]any, 0, 3*(hi-lo))
				for id := lo; id < hi; id++ {
					if id > lo {
						q.WriteString(",")
					}
					q.WriteString("(?,?,?)")
					args = append(args, id, 7*id, padOf(id))
				}
				if _, err := db.Exec(q.String(), args...); err != nil {
					failed.Store(fmt.Errorf("insert rows %d-%d: %w", lo, hi, err))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
}

// reader runs point selects and range scans over r's n rows until ctx ends, checking every
// answer; it records each statement in ops.
func reader(ctx context.Context, db *sql.DB, worker, n int, ops *opLog, points, scans *atomic.Int64) {
	rng := rand.New(rand.NewPCG(uint64(worker), 7))
	for ctx.Err() == nil {
		start := time.Now()
		var err error
		if rng.IntN(4) > 0 {
			id := rng.IntN(n)
			var v int
			var pad string
			err = db.QueryRow("SELECT v, pad FROM r WHERE id = ?", id).Scan(&v, &pad)
			if err == nil && (v != 7*id || pad != padOf(id)) {
				err = fmt.Errorf("row %d: wrong answer v=%d pad=%.20q…", id, v, pad)
			}
			points.Add(1)
		} else {
			const span = 300
			lo := rng.IntN(n - span)
			var cnt int64
			var sum, padLen float64 // SUM answers a float here (exact far beyond these sums)
			err = db.QueryRow("SELECT COUNT(*), SUM(v), SUM(LENGTH(pad)) FROM r WHERE id >= ? AND id < ?", lo, lo+span).Scan(&cnt, &sum, &padLen)
			want := float64(7 * (span*lo + span*(span-1)/2))
			if err == nil && (cnt != span || sum != want || padLen != span*1000) {
				err = fmt.Errorf("scan [%d, %d): count %d sum %.0f pad bytes %.0f, want %d %.0f %d", lo, lo+span, cnt, sum, padLen, span, want, span*1000)
			}
			scans.Add(1)
		}
		ops.add(opResult{worker: worker, start: start, end: time.Now(), err: err})
	}
}

// startReaders runs n readers (reader) over the rows rows of table r until ctx ends;
// the function it returns waits for them.
func startReaders(ctx context.Context, db *sql.DB, n, rows int, ops *opLog, points, scans *atomic.Int64) (wait func()) {
	var wg sync.WaitGroup
	for w := 1; w <= n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reader(ctx, db, w, rows, ops, points, scans)
		}()
	}
	return wg.Wait
}

// TestPageStoreKilledUnderReads SIGKILLs one Page Store while clients read a table larger
// than the compute node's 32 MiB buffer pool (so reads miss the pool and go to the Page
// Stores: the second-tier page cache is off): every read answers, and answers right.
func TestPageStoreKilledUnderReads(t *testing.T) {
	c := startCluster(t, "--disk-cache-mb", "0")
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE r "+rowsSchema)
	const rows = 64000 // about 64 MB of rows: twice the buffer pool
	start := time.Now()
	loadRows(t, db, rows, 250)
	t.Logf("loaded %d rows of 1 KB in %v", rows, time.Since(start).Round(time.Millisecond))

	ops := &opLog{}
	var points, scans atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	wait := startReaders(ctx, db, 4, rows, ops, &points, &scans)
	defer func() {
		cancel()
		wait()
	}()
	time.Sleep(3 * time.Second)
	before := points.Load() + scans.Load()
	old := c.kill("pagestore-2")
	killed := time.Now()
	time.Sleep(5 * time.Second)
	during := points.Load() + scans.Load() - before
	n := c.waitRestarted("pagestore-2", old, 30*time.Second)
	t.Logf("pagestore-2 back as pid %d after %v", n.PID, time.Since(killed).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	cancel()
	wait()
	ok, failed := ops.between(time.Time{}, time.Now())
	if len(failed) > 0 {
		t.Fatalf("%d of %d reads failed:\n%s", len(failed), ok+len(failed), describe(failed, 10))
	}
	t.Logf("%d point selects and %d range scans, 0 errors; %d in the 5 s after the kill", points.Load(), scans.Load(), during)
}
