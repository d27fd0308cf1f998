package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSample: random dives see exactly the snapshot's rows (not deleted ones, not versions
// newer than the snapshot, one version per row), and estimate the row count closely.
func TestSample(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, &memEnv{}, 512)
	tr := mustTree(t, db, "t")
	const n = 20000
	val := func(i, round int) string { return fmt.Sprintf("%d-%d-%0300d", i, round, i) }
	for i := 0; i < n; i += 1000 {
		w := begin(t, db, TxnOptions{})
		for j := i; j < i+1000; j++ {
			if err := w.Put(ctx, tr, []byte(fmt.Sprintf("k%06d", j)), []byte(val(j, 0))); err != nil {
				t.Fatal(err)
			}
		}
		mustCommit(t, w)
	}
	r := begin(t, db, TxnOptions{})
	r.Snapshot()
	// After r's snapshot: a quarter deleted, a quarter updated (new versions r must not see).
	w := begin(t, db, TxnOptions{})
	for j := 0; j < n; j += 2 {
		k := []byte(fmt.Sprintf("k%06d", j))
		if j%4 == 0 {
			w.Delete(ctx, tr, k)
		} else {
			w.Put(ctx, tr, k, []byte(val(j, 1)))
		}
	}
	mustCommit(t, w)
	now := begin(t, db, TxnOptions{})
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range []struct {
		tx   *Txn
		rows int
		seen func(i int) bool
		want func(i int) string
	}{
		{r, n, func(i int) bool { return true }, func(i int) string { return val(i, 0) }},
		{now, n * 3 / 4, func(i int) bool { return i%4 != 0 }, func(i int) string {
			if i%2 == 0 {
				return val(i, 1)
			}
			return val(i, 0)
		}},
	} {
		var sum float64
		const dives = 300
		for d := 0; d < dives; d++ {
			prev := -1
			est, err := c.tx.Sample(ctx, tr, rng, func(key, v []byte) error {
				var i int
				if _, err := fmt.Sscanf(string(key), "k%06d", &i); err != nil {
					return err
				}
				if i <= prev {
					return fmt.Errorf("row %d after %d", i, prev)
				}
				prev = i
				if !c.seen(i) || string(v) != c.want(i) {
					return fmt.Errorf("sampled row %d = %.12q, not what the snapshot sees", i, v)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sum += est
		}
		if est := sum / dives; est < 0.8*float64(c.rows) || est > 1.2*float64(c.rows) {
			t.Fatalf("estimated %.0f rows, the snapshot sees %d", est, c.rows)
		}
	}
	r.Rollback()
	now.Rollback()
}
