package btree

import (
	"bytes"
	"context"
	"testing"

	"strata/internal/mtr"
)

// TestPrefetch: Tree.Prefetch reads the leaves scans from its keys start on (the leaf
// holding the first key >= each), and only those: afterwards a Get of each key reads no
// page, and the count it returns is the misses it made.
func TestPrefetch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 48)
	tr := e.create(t)
	val := bytes.Repeat([]byte("v"), 300)
	for i := 0; i < 4000; i += 100 { // about 80 leaves of 50 keys: more than the pool
		e.write(t, func(m *mtr.Mtr) error {
			for j := i; j < i+100; j++ {
				if err := tr.Put(m, key(2*j), val); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Keys far apart, present or between two present ones (2k+1 is not a key: the scan
	// starts at 2k+2), each on its own leaf; pushed out of the pool by a scan of the rest.
	keys := [][]byte{key(2 * 1000), key(2*2500 + 1), key(2 * 3990), key(2*7000 + 1)}
	if err := tr.Scan(ctx, key(0), func(k []byte, _ Value) (bool, error) { return bytes.Compare(k, key(2*900)) < 0, nil }); err != nil {
		t.Fatal(err)
	}
	before := e.pool.Stats()
	n, err := tr.Prefetch(ctx, append(keys, nil))
	if err != nil {
		t.Fatal(err)
	}
	after := e.pool.Stats()
	if n == 0 || uint64(n) != after.Prefetched-before.Prefetched {
		t.Fatalf("Prefetch read %d leaves, the pool counted %d", n, after.Prefetched-before.Prefetched)
	}
	leaves := after.Misses - before.Misses - uint64(n) // the rest were inner nodes
	for _, k := range keys {
		found := false
		if err := tr.Scan(ctx, k, func(_ []byte, _ Value) (bool, error) { found = true; return false, nil }); err != nil {
			t.Fatal(err)
		}
		if !found && !bytes.Equal(k, key(2*7000+1)) {
			t.Fatalf("scan from %q found nothing", k)
		}
	}
	if got := e.pool.Stats().Misses; got != after.Misses {
		t.Fatalf("scans after Prefetch missed %d pages (Prefetch read %d leaves and %d inner nodes)", got-after.Misses, n, leaves)
	}
	// A tree that is one leaf: nothing to read.
	small := e.create(t)
	e.write(t, func(m *mtr.Mtr) error { return small.Put(m, key(1), val) })
	if n, err := small.Prefetch(ctx, [][]byte{key(1)}); err != nil || n != 0 {
		t.Fatalf("one-leaf tree: read %d, %v", n, err)
	}
}
