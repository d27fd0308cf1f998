package engine

// Benchmarks of reads through transactions on an engine over memstore whose 100,000 rows are
// all cached, each beside a sorted-slice baseline measured in the same run:
//
//	go test ./internal/engine -run '^$' -bench . -benchtime 2s

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"strata/internal/page"
	"strata/internal/storage/memstore"
)

const (
	benchRows   = 100_000
	benchValLen = 100
	benchBatch  = 1000 // rows per loading transaction
	benchFrames = 4096 // 64 MiB: several times what the rows need
)

type benchEngine struct {
	db    *DB
	tree  page.ID
	keys  [][]byte // ascending
	vals  [][]byte
	order []int // random permutation of [0, benchRows): the lookup order
}

var (
	benchOnce sync.Once
	benchEng  *benchEngine
)

// sharedEngine returns an engine holding benchRows committed rows, built on first use. It is
// never closed: it lives as long as the test binary.
func sharedEngine(b *testing.B) *benchEngine {
	benchOnce.Do(func() { benchEng = buildEngine(b) })
	if benchEng == nil {
		b.Fatal("the shared engine could not be built (see the first benchmark's failure)")
	}
	return benchEng
}

func buildEngine(b *testing.B) *benchEngine {
	ctx := context.Background()
	log := memstore.NewLog()
	db, err := Open(ctx, Options{Log: log, Pages: memstore.NewPages(log), PoolFrames: benchFrames, PurgeInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEngine{db: db, keys: make([][]byte, benchRows), vals: make([][]byte, benchRows)}
	if e.tree, err = db.CreateTree(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	for i := range e.keys {
		e.keys[i] = fmt.Appendf(nil, "%016d", i)
		v := bytes.Repeat([]byte{byte(i)}, benchValLen)
		copy(v, e.keys[i])
		e.vals[i] = v
	}
	for i := 0; i < benchRows; i += benchBatch {
		t, err := db.Begin(TxnOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for j := i; j < min(i+benchBatch, benchRows); j++ {
			if err := t.Put(ctx, e.tree, e.keys[j], e.vals[j]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := t.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	e.order = rand.New(rand.NewPCG(5, 6)).Perm(benchRows)
	if ev := db.Pool().Stats().Evictions; ev != 0 {
		b.Fatalf("%d evictions while loading %d rows into %d frames", ev, benchRows, benchFrames)
	}
	return e
}

func perSecond(b *testing.B, n float64, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(n/s, unit)
	}
}

func (e *benchEngine) begin(b *testing.B) *Txn {
	t, err := e.db.Begin(TxnOptions{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkTxnGet times point gets of random existing keys through a read-only transaction:
// one transaction for all gets, and a transaction begun and ended around each get. no-txn
// reads at the visible snapshot without a transaction (the MVCC read alone); the baseline is
// binary search over the sorted keys.
func BenchmarkTxnGet(b *testing.B) {
	e := sharedEngine(b)
	ctx := context.Background()
	check := func(b *testing.B, i int, v []byte, ok bool, err error) {
		if err != nil || !ok || !bytes.Equal(v, e.vals[i]) {
			b.Fatalf("get %s: %q %v %v", e.keys[i], v, ok, err)
		}
	}
	b.Run("one-txn", func(b *testing.B) {
		b.ReportAllocs()
		misses := e.db.Pool().Stats().Misses
		t := e.begin(b)
		defer t.Rollback()
		n := 0
		for b.Loop() {
			i := e.order[n%benchRows]
			n++
			v, ok, err := t.Get(ctx, e.tree, e.keys[i])
			check(b, i, v, ok, err)
		}
		perSecond(b, float64(b.N), "gets/s")
		b.ReportMetric(float64(e.db.Pool().Stats().Misses-misses), "pool-misses")
	})
	b.Run("txn-per-get", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			i := e.order[n%benchRows]
			n++
			t := e.begin(b)
			v, ok, err := t.Get(ctx, e.tree, e.keys[i])
			t.Rollback()
			check(b, i, v, ok, err)
		}
		perSecond(b, float64(b.N), "gets/s")
	})
	b.Run("no-txn", func(b *testing.B) {
		b.ReportAllocs()
		snap := e.db.VisibleLSN()
		n := 0
		for b.Loop() {
			i := e.order[n%benchRows]
			n++
			v, ok, err := e.db.get(ctx, e.tree, e.keys[i], snap)
			check(b, i, v, ok, err)
		}
		perSecond(b, float64(b.N), "gets/s")
	})
	b.Run("baseline=sorted-slice", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		var dst []byte
		for b.Loop() {
			i := e.order[n%benchRows]
			n++
			k := e.keys[i]
			j := sort.Search(len(e.keys), func(j int) bool { return bytes.Compare(e.keys[j], k) >= 0 })
			ok := j < len(e.keys) && bytes.Equal(e.keys[j], k)
			if ok {
				dst = append(dst[:0], e.vals[j]...)
			}
			check(b, i, dst, ok, nil)
		}
		perSecond(b, float64(b.N), "gets/s")
	})
}

// BenchmarkTxnScan times a full scan of the 100,000 rows through a read-only transaction's
// iterator, forward and reverse, against iterating the sorted slices.
func BenchmarkTxnScan(b *testing.B) {
	e := sharedEngine(b)
	ctx := context.Background()
	for _, reverse := range []bool{false, true} {
		name := "forward"
		if reverse {
			name = "reverse"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				t := e.begin(b)
				it := t.Scan(ctx, e.tree, nil, nil, reverse)
				n, size := 0, 0
				for it.Next() {
					n++
					size += len(it.Key()) + len(it.Value())
				}
				err := it.Err()
				it.Close()
				t.Rollback()
				if err != nil || n != benchRows || size != benchRows*(16+benchValLen) {
					b.Fatalf("scan: %d rows, %d bytes: %v", n, size, err)
				}
			}
			perSecond(b, float64(b.N)*benchRows, "rows/s")
		})
	}
	b.Run("baseline=sorted-slice", func(b *testing.B) {
		for b.Loop() {
			n, size := 0, 0
			for i, k := range e.keys {
				n++
				size += len(k) + len(e.vals[i])
			}
			if n != benchRows || size != benchRows*(16+benchValLen) {
				b.Fatalf("iterate: %d rows, %d bytes", n, size)
			}
		}
		perSecond(b, float64(b.N)*benchRows, "rows/s")
	})
}
