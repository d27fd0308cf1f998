package localdb

// Benchmarks of the real durable stack (file log with fsync, page store, engine) in a
// temporary directory on the local disk:
//
//	go test ./internal/localdb -run '^$' -bench BenchmarkCommit -benchtime 2000x
//	go test ./internal/localdb -run '^$' -bench BenchmarkPoolMemory -benchtime 1x

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/engine"
)

// benchLogger keeps the stack's info messages out of the benchmark output.
var benchLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func openBench(b *testing.B, frames int) *DB {
	b.Helper()
	db, err := Open(context.Background(), Options{Dir: b.TempDir(), PoolFrames: frames, Logger: benchLogger})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func perSecond(b *testing.B, n float64, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(n/s, unit)
	}
}

// BenchmarkCommit runs exactly b.N transactions, split across a number of concurrent
// committers, each writing one new 100-byte row and committing (waiting for its group to be
// durable). Group commit should make one fsync serve many committers. The baseline is the
// disk itself: a 100-byte write and an fdatasync per op on a file in the same kind of
// directory, which is how the log's flusher syncs (vfs SyncData is fdatasync on Linux).
func BenchmarkCommit(b *testing.B) {
	for _, committers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) { benchCommit(b, committers) })
	}
	b.Run("baseline=fsync", func(b *testing.B) {
		fs := vfs.Default
		f, err := fs.Create(fs.PathJoin(b.TempDir(), "fsync"), vfs.WriteCategoryUnspecified)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := bytes.Repeat([]byte{'x'}, 100)
		off := int64(0)
		for b.Loop() {
			if _, err := f.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
			off += int64(len(buf))
			if err := f.SyncData(); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b, float64(b.N), "fsync/s")
	})
}

func benchCommit(b *testing.B, committers int) {
	ctx := context.Background()
	db := openBench(b, 0)
	defer db.Close()
	tree, err := db.CreateTree(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	val := bytes.Repeat([]byte{'v'}, 100)
	var next atomic.Int64
	var wg sync.WaitGroup
	base := db.Log.Stats()
	b.ResetTimer()
	for range committers {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				t, err := db.Begin(engine.TxnOptions{})
				if err == nil {
					err = t.Put(ctx, tree, fmt.Appendf(nil, "%016d", n), val)
				}
				if err == nil {
					_, err = t.Commit(ctx)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	fsyncs := float64(db.Log.Stats().Fsyncs - base.Fsyncs)
	perSecond(b, float64(b.N), "commits/s")
	perSecond(b, fsyncs, "fsync/s")
	b.ReportMetric(float64(b.N)/max(1, fsyncs), "commits/fsync")
}

// memPeak samples the Go heap (in use, which includes garbage not yet collected, and live as
// marked by the last GC), the memory the runtime holds from the OS, and the process's
// resident set (which also counts memory allocated outside the Go heap, such as pebble's
// cgo-allocated caches) every 10 ms, keeping the peaks.
type memPeak struct {
	heapInuse, heapLive, sys, rss uint64
	live                          []metrics.Sample
	stop                          chan struct{}
	done                          sync.WaitGroup
}

func startMemPeak() *memPeak {
	p := &memPeak{stop: make(chan struct{}), live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	p.sample()
	p.done.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				p.sample()
				return
			case <-tick.C:
				p.sample()
			}
		}
	})
	return p
}

func (p *memPeak) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.heapInuse = max(p.heapInuse, ms.HeapInuse)
	if metrics.Read(p.live); p.live[0].Value.Kind() == metrics.KindUint64 {
		p.heapLive = max(p.heapLive, p.live[0].Value.Uint64())
	}
	p.sys = max(p.sys, ms.Sys)
	p.rss = max(p.rss, residentBytes())
}

func (p *memPeak) finish() {
	close(p.stop)
	p.done.Wait()
}

// residentBytes returns the process's resident set size from /proc (0 where unavailable).
func residentBytes() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// BenchmarkPoolMemory loads rows of 1 KiB (100 per transaction) into a database with an
// 8 MiB buffer pool (512 frames), then reads them all back with a scan, sampling memory use
// throughout: about 40 MB of rows, and twice that to show the slope. The buffer pool evicts
// pages and reads them again from the page store, so the heap should stay near a bounded
// working set instead of growing with the data.
func BenchmarkPoolMemory(b *testing.B) {
	for _, rows := range []int{40_000, 80_000} {
		b.Run(fmt.Sprintf("rows=%dk", rows/1000), func(b *testing.B) { benchPoolMemory(b, rows) })
	}
}

func benchPoolMemory(b *testing.B, rows int) {
	const (
		frames  = 512
		rowSize = 1024
		perTxn  = 100
	)
	ctx := context.Background()
	val := bytes.Repeat([]byte{'r'}, rowSize)
	runtime.GC()
	peak := startMemPeak()
	var evictions, misses uint64
	for b.Loop() {
		db := openBench(b, frames)
		tree, err := db.CreateTree(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < rows; i += perTxn {
			t, err := db.Begin(engine.TxnOptions{})
			if err != nil {
				b.Fatal(err)
			}
			for j := i; j < i+perTxn; j++ {
				if err := t.Put(ctx, tree, fmt.Appendf(nil, "%016d", j), val); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := t.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		t, err := db.Begin(engine.TxnOptions{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		it := t.Scan(ctx, tree, nil, nil, false)
		n := 0
		var want []byte
		for it.Next() {
			want = fmt.Appendf(want[:0], "%016d", n)
			if !bytes.Equal(it.Key(), want) || !bytes.Equal(it.Value(), val) {
				b.Fatalf("row %d: key %q with %d bytes, want %q", n, it.Key(), len(it.Value()), want)
			}
			n++
		}
		if err := it.Err(); err != nil {
			b.Fatal(err)
		}
		it.Close()
		t.Rollback()
		if n != rows {
			b.Fatalf("scan returned %d rows, want %d", n, rows)
		}
		st := db.Pool().Stats()
		evictions += st.Evictions
		misses += st.Misses
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
	peak.finish()
	if evictions == 0 {
		b.Fatalf("no evictions: %d frames held all %d rows", frames, rows)
	}
	const mib = 1 << 20
	b.ReportMetric(float64(frames)*16384/mib, "pool-MiB")
	b.ReportMetric(float64(rows)*rowSize/mib, "data-MiB")
	b.ReportMetric(float64(peak.heapInuse)/mib, "heap-inuse-MiB")
	b.ReportMetric(float64(peak.heapLive)/mib, "heap-live-MiB")
	b.ReportMetric(float64(peak.sys)/mib, "sys-MiB")
	if peak.rss > 0 {
		b.ReportMetric(float64(peak.rss)/mib, "rss-MiB")
	}
	b.ReportMetric(float64(evictions)/float64(b.N), "evictions")
	b.ReportMetric(float64(misses)/float64(b.N), "misses")
}
