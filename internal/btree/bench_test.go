package btree

// Benchmarks of the B+tree over an in-memory log and page source (memstore), each beside a
// plain Go baseline measured in the same run. Run them with bench/engine.sh or
//
//	go test ./internal/btree -run '^$' -bench . -benchtime 3s
//
// BenchmarkPointGet and BenchmarkScan share one tree of 1,000,000 keys, built on first use.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"strata/internal/mtr"
)

const (
	benchKeys   = 1_000_000 // entries in the shared tree
	benchValLen = 100       // bytes per value
	benchPerMtr = 1000      // Puts per mini-transaction while bulk loading
)

// benchKey formats the key for n: 16 decimal digits, so byte order is numeric order.
func benchKey(n uint64) []byte { return fmt.Appendf(make([]byte, 0, 16), "%016d", n) }

// benchFixture is the shared 1M-key tree and the same data as sorted slices (the baseline).
type benchFixture struct {
	e      *env
	t      *Tree
	keys   [][]byte // ascending
	vals   [][]byte // vals[i] is stored under keys[i]
	order  []int    // a random permutation of [0, benchKeys): the lookup order
	st     Stats    // the tree's shape after loading
	frames int      // buffer pool frames
	pages  int      // pages the tree uses (nodes plus the meta page)
}

var (
	benchOnce sync.Once
	benchFix  *benchFixture
)

// sharedTree returns the shared tree, building it on first use.
func sharedTree(b *testing.B) *benchFixture {
	benchOnce.Do(func() { benchFix = buildFixture(b) })
	if benchFix == nil {
		b.Fatal("the shared tree could not be built (see the first benchmark's failure)")
	}
	return benchFix
}

// treePages is the number of pages a tree of this shape occupies, with the meta page.
func treePages(st Stats) int { return st.Internal + st.Leaves + st.Overflow + 1 }

func buildFixture(b *testing.B) *benchFixture {
	ctx := context.Background()
	f := &benchFixture{keys: make([][]byte, benchKeys), vals: make([][]byte, benchKeys)}
	// The key set is "%016d" of every integer in [0, benchKeys); lookups visit it in a random
	// permutation. Values are 100 bytes: the key, then a filler byte.
	arena := make([]byte, benchKeys*benchValLen)
	for i := range f.keys {
		f.keys[i] = benchKey(uint64(i))
		v := arena[i*benchValLen : (i+1)*benchValLen : (i+1)*benchValLen]
		copy(v, f.keys[i])
		for j := len(f.keys[i]); j < len(v); j++ {
			v[j] = byte(i)
		}
		f.vals[i] = v
	}
	f.order = rand.New(rand.NewPCG(1, 2)).Perm(benchKeys)

	// Measure the pages a bulk load uses on a sample, then size the pool at 1.5 times the
	// extrapolated need so the whole tree stays cached.
	const sample = 20_000
	se := newEnv(b, 4096)
	st := se.create(b)
	bulkLoad(b, se, st, f.keys[:sample], f.vals[:sample])
	sst, err := st.Check(ctx)
	if err != nil {
		b.Fatal(err)
	}
	f.frames = int(1.5*float64(treePages(sst))*benchKeys/sample) + 64

	f.e = newEnv(b, f.frames)
	f.t = f.e.create(b)
	bulkLoad(b, f.e, f.t, f.keys, f.vals)
	if f.st, err = f.t.Check(ctx); err != nil {
		b.Fatal(err)
	}
	if f.st.Entries != benchKeys {
		b.Fatalf("tree holds %d entries, want %d", f.st.Entries, benchKeys)
	}
	f.pages = treePages(f.st)
	if ps := f.e.pool.Stats(); ps.Evictions != 0 {
		b.Fatalf("%d evictions while loading into %d frames for %d pages", ps.Evictions, f.frames, f.pages)
	}
	for _, i := range f.order[:1000] {
		v, ok, err := f.t.Get(ctx, f.keys[i], nil)
		if err != nil || !ok || !bytes.Equal(v, f.vals[i]) {
			b.Fatalf("get %s: %q %v %v", f.keys[i], v, ok, err)
		}
	}
	b.Logf("shared tree: %d keys, height %d, %d internal + %d leaf pages, %d frames",
		benchKeys, f.st.Height, f.st.Internal, f.st.Leaves, f.frames)
	return f
}

// bulkLoad inserts ascending keys, benchPerMtr Puts per mini-transaction.
func bulkLoad(b *testing.B, e *env, t *Tree, keys, vals [][]byte) {
	for i := 0; i < len(keys); i += benchPerMtr {
		end := min(i+benchPerMtr, len(keys))
		e.write(b, func(m *mtr.Mtr) error {
			for j := i; j < end; j++ {
				if err := t.Put(m, keys[j], vals[j]); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

func perSecond(b *testing.B, n float64, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(n/s, unit)
	}
}

// sliceGet is the baseline point lookup: binary search over the sorted keys, copying the
// value out as Tree.Get does.
func sliceGet(keys, vals [][]byte, k, dst []byte) ([]byte, bool) {
	i := sort.Search(len(keys), func(j int) bool { return bytes.Compare(keys[j], k) >= 0 })
	if i == len(keys) || !bytes.Equal(keys[i], k) {
		return dst, false
	}
	return append(dst, vals[i]...), true
}

// BenchmarkPointGet times Tree.Get of random existing keys in a fully cached 1M-key tree, on
// one goroutine and on GOMAXPROCS goroutines, against binary search over a sorted slice.
func BenchmarkPointGet(b *testing.B) {
	f := sharedTree(b)
	ctx := context.Background()
	b.Run("btree", func(b *testing.B) {
		b.ReportAllocs()
		misses := f.e.pool.Stats().Misses
		var dst []byte
		i := 0
		for b.Loop() {
			k := f.keys[f.order[i%benchKeys]]
			i++
			v, ok, err := f.t.Get(ctx, k, dst[:0])
			if err != nil || !ok {
				b.Fatalf("get %s: %v %v", k, ok, err)
			}
			dst = v
		}
		perSecond(b, float64(b.N), "gets/s")
		b.ReportMetric(float64(f.st.Height), "height")
		b.ReportMetric(float64(f.pages), "pages")
		b.ReportMetric(float64(f.frames), "frames")
		b.ReportMetric(float64(f.e.pool.Stats().Misses-misses), "pool-misses")
	})
	b.Run("baseline=sorted-slice", func(b *testing.B) {
		b.ReportAllocs()
		var dst []byte
		i := 0
		for b.Loop() {
			k := f.keys[f.order[i%benchKeys]]
			i++
			v, ok := sliceGet(f.keys, f.vals, k, dst[:0])
			if !ok {
				b.Fatalf("get %s: not found", k)
			}
			dst = v
		}
		perSecond(b, float64(b.N), "gets/s")
	})
	parallel := func(get func(k, dst []byte) ([]byte, bool, error)) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				var dst []byte
				i := int(seq.Add(1)) * 104729 // each goroutine starts elsewhere in the order
				for pb.Next() {
					k := f.keys[f.order[i%benchKeys]]
					i++
					v, ok, err := get(k, dst[:0])
					if err != nil || !ok {
						b.Errorf("get %s: %v %v", k, ok, err)
						return
					}
					dst = v
				}
			})
			perSecond(b, float64(b.N), "gets/s")
		}
	}
	b.Run("btree-parallel", parallel(func(k, dst []byte) ([]byte, bool, error) {
		return f.t.Get(ctx, k, dst)
	}))
	b.Run("baseline=sorted-slice-parallel", parallel(func(k, dst []byte) ([]byte, bool, error) {
		v, ok := sliceGet(f.keys, f.vals, k, dst)
		return v, ok, nil
	}))
}

// BenchmarkPut times one Put of a new key per mini-transaction (appended to a memstore log)
// into a growing tree, with random or ascending keys. A sorted slice would be O(n) per insert,
// so the baseline is a Go map insert of the same random keys.
func BenchmarkPut(b *testing.B) {
	b.Run("random", func(b *testing.B) { benchPut(b, true) })
	b.Run("sequential", func(b *testing.B) { benchPut(b, false) })
	b.Run("baseline=map-insert", func(b *testing.B) {
		keys, val := putKeys(b.N, true)
		m := map[string][]byte{}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m[string(keys[i])] = val
		}
		b.StopTimer()
		if len(m) != b.N {
			b.Fatalf("map holds %d keys, want %d", len(m), b.N)
		}
		perSecond(b, float64(b.N), "puts/s")
	})
}

// putKeys returns n distinct keys, random or ascending, and a 100-byte value.
func putKeys(n int, random bool) ([][]byte, []byte) {
	keys := make([][]byte, n)
	if random {
		rng := rand.New(rand.NewPCG(3, 4))
		seen := make(map[uint64]struct{}, n)
		for i := range keys {
			for {
				x := rng.Uint64N(1e16)
				if _, dup := seen[x]; !dup {
					seen[x] = struct{}{}
					keys[i] = benchKey(x)
					break
				}
			}
		}
	} else {
		for i := range keys {
			keys[i] = benchKey(uint64(i))
		}
	}
	return keys, bytes.Repeat([]byte{'v'}, benchValLen)
}

func benchPut(b *testing.B, random bool) {
	ctx := context.Background()
	keys, val := putKeys(b.N, random)
	// Enough frames for half-full leaves of 120-byte cells, so nothing is evicted and every
	// Put is served from the pool.
	e := newEnv(b, b.N/50+256)
	t := e.create(b)
	start := e.log.End()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.mu.Lock()
		m := mtr.Begin(ctx, e.pool, e.log)
		err := t.Put(m, keys[i], val)
		if err == nil {
			_, err = m.Finish()
		}
		e.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perSecond(b, float64(b.N), "puts/s")
	b.ReportMetric(float64(e.log.End()-start)/float64(b.N), "log-B/put")
	if ev := e.pool.Stats().Evictions; ev != 0 {
		b.Fatalf("%d evictions in a pool of %d frames", ev, e.pool.Size())
	}
	if b.N >= 10_000 {
		return // checking a large tree would dominate the run
	}
	if st, err := t.Check(ctx); err != nil || st.Entries != b.N {
		b.Fatalf("after %d puts: %+v %v", b.N, st, err)
	}
}

// benchDigitSum is the sum over all keys of the value of their last byte, which every scan
// reads so that it touches each key (the last digits cycle through '0'..'9').
const benchDigitSum = benchKeys / 10 * ('0' + '9') * 10 / 2

// BenchmarkScan times full forward and reverse scans of the shared 1M-key tree against
// iterating the sorted slices.
func BenchmarkScan(b *testing.B) {
	f := sharedTree(b)
	ctx := context.Background()
	for _, reverse := range []bool{false, true} {
		dir := "forward"
		if reverse {
			dir = "reverse"
		}
		b.Run(dir, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, size, sum := 0, 0, 0
				visit := func(k []byte, v Value) (bool, error) {
					n++
					size += len(k) + v.Len()
					sum += int(k[len(k)-1])
					return true, nil
				}
				var err error
				if reverse {
					err = f.t.ScanReverse(ctx, nil, visit)
				} else {
					err = f.t.Scan(ctx, nil, visit)
				}
				if err != nil || n != benchKeys || size != benchKeys*(16+benchValLen) || sum != benchDigitSum {
					b.Fatalf("scan: %d rows, %d bytes, digit sum %d: %v", n, size, sum, err)
				}
			}
			perSecond(b, float64(b.N)*benchKeys, "rows/s")
		})
	}
	for _, reverse := range []bool{false, true} {
		dir := "forward"
		if reverse {
			dir = "reverse"
		}
		b.Run("baseline=sorted-slice-"+dir, func(b *testing.B) {
			for b.Loop() {
				n, size, sum := 0, 0, 0
				if reverse {
					for i := len(f.keys) - 1; i >= 0; i-- {
						k := f.keys[i]
						n++
						size += len(k) + len(f.vals[i])
						sum += int(k[len(k)-1])
					}
				} else {
					for i, k := range f.keys {
						n++
						size += len(k) + len(f.vals[i])
						sum += int(k[len(k)-1])
					}
				}
				if n != benchKeys || size != benchKeys*(16+benchValLen) || sum != benchDigitSum {
					b.Fatalf("iterate: %d rows, %d bytes, digit sum %d", n, size, sum)
				}
			}
			perSecond(b, float64(b.N)*benchKeys, "rows/s")
		})
	}
}
