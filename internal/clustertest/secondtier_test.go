package clustertest

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"strata/internal/diskcache"
)

// metric reads the value of one unlabelled series from a node's /metrics.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s at %s: %q", name, addr, v)
			}
			return f
		}
	}
	t.Fatalf("%s at %s: no such series (%v)", name, addr, sc.Err())
	return 0
}

// TestSecondTier reads a table twice the size of the writer's 32 MiB buffer pool through a
// cluster with the second-tier page cache on (the default): misses of pages the pool evicted
// are read from the node's local file instead of the Page Stores, and every answer is
// right. The file lives in the node's directory; a writer restarted after a SIGKILL starts
// with an empty one: it reads each page from the Page Stores first, and from its own second
// tier once it has evicted it.
func TestSecondTier(t *testing.T) {
	c := startCluster(t)
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE r "+rowsSchema)
	const rows = 64000 // about 64 MB of rows: twice the buffer pool
	loadRows(t, db, rows, 250)
	file := filepath.Join(c.dir, "compute", diskcache.FileName)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the second tier's file: %v", err)
	}

	read := func(d time.Duration) {
		t.Helper()
		ops := &opLog{}
		var points, scans atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		startReaders(ctx, db, 4, rows, ops, &points, &scans)()
		if ok, failed := ops.between(time.Time{}, time.Now()); len(failed) > 0 || ok == 0 {
			t.Fatalf("%d of %d reads failed:\n%s", len(failed), ok+len(failed), describe(failed, 10))
		}
		t.Logf("%d point selects and %d range scans, all right", points.Load(), scans.Load())
	}

	rw := c.node("rw")
	hits0, misses0 := metric(t, rw.Metrics, "strata_bufpool_second_tier_hits_total"), metric(t, rw.Metrics, "strata_bufpool_misses_total")
	read(4 * time.Second)
	hits, misses := metric(t, rw.Metrics, "strata_bufpool_second_tier_hits_total")-hits0, metric(t, rw.Metrics, "strata_bufpool_misses_total")-misses0
	t.Logf("%.0f buffer pool misses, %.0f read from the second tier", misses, hits)
	if hits == 0 || hits < misses/2 {
		t.Fatalf("the second tier served %.0f of %.0f misses", hits, misses)
	}
	if r := metric(t, rw.Metrics, "strata_diskcache_rejected_total"); r != 0 {
		t.Fatalf("%.0f reads rejected", r)
	}

	// A new writer process: a new, empty file, and pages from the Page Stores again.
	old := c.kill("rw")
	rw = c.waitRestarted("rw", old, 60*time.Second)
	read(3 * time.Second)
	misses, hits = metric(t, rw.Metrics, "strata_bufpool_misses_total"), metric(t, rw.Metrics, "strata_bufpool_second_tier_hits_total")
	t.Logf("after the restart: %.0f misses, %.0f read from the second tier", misses, hits)
	if misses == 0 || hits == 0 || hits >= misses {
		t.Fatalf("after the restart %.0f of %.0f misses came from the second tier", hits, misses)
	}
}
