package clustertest

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strata/internal/pageclient"
	"strata/internal/rpcauth"
)

var movedLine = regexp.MustCompile(`segment (\d+) moved from (\S+) to (\S+)`)

// TestAddPageStore runs `strata ctl add-pagestore` on a cluster (segments of 64 pages) while
// clients write to one table and read another that is larger than the buffer pool: the new
// Page Store is started by `strata up`, gets its share of the segments (copied from the
// replicas, progress printed), and the old replicas drop them. No statement fails, and after
// a restart of the compute node (a cold buffer pool, every page read through the new
// placement) every acknowledged write is there and every read answers right. The
// second-tier page cache is off, so that reads of evicted pages go to the Page Stores while
// their segments move.
func TestAddPageStore(t *testing.T) {
	c := startCluster(t, "--segment-mb", "1", "--disk-cache-mb", "0")
	db := c.newDatabase(12)
	c.exec(db, "CREATE TABLE r "+rowsSchema)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	const rows = 48000 // about 48 MB of rows: more than the 32 MiB pool, in dozens of segments
	loadRows(t, db, rows, 250)

	led, ops := newLedger(), &opLog{}
	stopWriters := startWriters(db, 4, led, ops)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var points, scans atomic.Int64
	for w := 1; w <= 3; w++ {
		wg.Go(func() { reader(ctx, db, w, rows, ops, &points, &scans) })
	}
	stopLoad := func() {
		cancel()
		wg.Wait()
		stopWriters()
	}
	defer stopLoad()
	time.Sleep(2 * time.Second)

	start := time.Now()
	actx, acancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer acancel()
	out, err := exec.CommandContext(actx, strataBin, "ctl", "add-pagestore", "--data", c.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("ctl add-pagestore: %v\n%s\n%s", err, out, c.tail(c.upLog, 30))
	}
	took := time.Since(start)
	text := string(out)
	moved := movedLine.FindAllStringSubmatch(text, -1)
	if len(moved) == 0 || !strings.Contains(text, "pagestore-4 serves") {
		t.Fatalf("ctl add-pagestore moved nothing:\n%s", text)
	}
	t.Logf("add-pagestore moved %d segments in %v:\n%s", len(moved), took.Round(time.Millisecond), lastLines(text, 4))
	time.Sleep(2 * time.Second) // the old replicas drop what they gave
	stopLoad()
	ok, failed := ops.between(time.Time{}, time.Now())
	if len(failed) > 0 {
		t.Fatalf("%d of %d statements failed during the moves:\n%s", len(failed), ok+len(failed), describe(failed, 10))
	}
	t.Logf("%d statements during the run (%d point selects, %d scans), 0 errors", ok, points.Load(), scans.Load())

	// Each store reports what it keeps: the new one serves the moved segments, and each old
	// replica excludes what it gave.
	st := c.mustStatus()
	addr := map[string]string{}
	for _, n := range st.Nodes {
		if n.Role == "pagestore" {
			addr[n.ID] = n.Addr
		}
	}
	if addr["pagestore-4"] == "" {
		t.Fatalf("pagestore-4 not in the status: %+v", st.Nodes)
	}
	if p := st.Placement["pagestore-4"]; p.Listed != len(moved) || p.Default || p.MovingIn != 0 {
		t.Fatalf("ctl status: pagestore-4 has %+v, want %d listed segments and no move under way", p, len(moved))
	}
	secret, err := rpcauth.ReadSecretFile(filepath.Join(c.dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	// The stores follow the placement every second: allow a loaded machine some of them.
	for _, m := range moved {
		seg, _ := strconv.ParseUint(m[1], 10, 64)
		for deadline := time.Now().Add(30 * time.Second); ; {
			from := storeStatus(t, secret, addr[m[2]])
			to := storeStatus(t, secret, addr[m[3]])
			if slices.Contains(to.Segments, seg) && slices.Contains(from.Excluded, seg) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("segment %d: %s serves %v, %s excludes %v", seg, m[3], to.Segments, m[2], from.Excluded)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A cold buffer pool reads every page through the new placement.
	old := c.kill("rw")
	c.waitRestarted("rw", old, 30*time.Second)
	db = c.db("d")
	led.verify(t, db)
	var cnt int64
	var sum float64
	if err := db.QueryRow("SELECT COUNT(*), SUM(v) FROM r").Scan(&cnt, &sum); err != nil || cnt != rows || sum != float64(7*rows*(rows-1)/2) {
		t.Fatalf("table r after the moves: count %d sum %.0f err %v", cnt, sum, err)
	}
}

func storeStatus(t *testing.T, secret, addr string) pageclient.Status {
	t.Helper()
	pc, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: []string{addr}}, Secret: secret,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st := pc.Status(ctx)[0]
	if st.Err != nil {
		t.Fatal(st.Err)
	}
	return st
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
