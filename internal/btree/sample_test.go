package btree

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"strata/internal/mtr"
)

// TestSampleEstimatesSize: random dives visit real leaves in key order, and the average of
// fanouts × entries per leaf lands near the tree's true entry count (an unbiased estimator;
// 400 dives keep it within a fifth here).
func TestSampleEstimatesSize(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 256)
	tr := e.create(t)
	// Empty tree: one leaf, nothing in it.
	rng := rand.New(rand.NewPCG(7, 7))
	leaves, err := tr.Sample(ctx, rng, func(k []byte, v Value) (bool, error) {
		t.Fatal("an empty tree has no entries to visit")
		return false, nil
	})
	if err != nil || leaves != 1 {
		t.Fatalf("empty tree: %v leaves, %v", leaves, err)
	}
	const n = 30000
	for i := 0; i < n; i += 500 {
		e.write(t, func(m *mtr.Mtr) error {
			for j := i; j < i+500; j++ {
				// Varied value sizes so that leaves hold different numbers of entries.
				if err := tr.Put(m, key(j), bytes.Repeat([]byte{1}, (j*7919)%1500)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	st, err := tr.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Height < 3 {
		t.Fatalf("tree of height %d: the test wants internal levels", st.Height)
	}
	var sum float64
	const dives = 400
	for d := 0; d < dives; d++ {
		var prev []byte
		cnt := 0
		leaves, err := tr.Sample(ctx, rng, func(k []byte, v Value) (bool, error) {
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				t.Fatalf("leaf entries out of order: %q then %q", prev, k)
			}
			if got, ok, err := tr.Get(ctx, k, nil); err != nil || !ok || v.Len() != len(got) {
				t.Fatalf("sampled %q is not in the tree as seen: %v %v", k, ok, err)
			}
			prev = append(prev[:0], k...)
			cnt++
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if cnt == 0 {
			t.Fatal("a dive found an empty leaf in a full tree")
		}
		sum += leaves * float64(cnt)
	}
	est := sum / dives
	t.Logf("height %d, %d leaves; estimated %.0f entries of %d", st.Height, st.Leaves, est, n)
	if est < 0.8*n || est > 1.2*n {
		t.Fatalf("estimated %.0f entries, the tree holds %d", est, n)
	}
	// A visitor can stop early.
	cnt := 0
	if _, err := tr.Sample(ctx, rng, func(k []byte, v Value) (bool, error) { cnt++; return cnt < 3, nil }); err != nil || cnt != 3 {
		t.Fatalf("early stop: %d visits, %v", cnt, err)
	}
}
