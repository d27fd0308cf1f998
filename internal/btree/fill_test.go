package btree

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"strata/internal/mtr"
	"strata/internal/page"
)

// TestPageFill checks how full the leaves are after typical insert orders. Ascending runs,
// whether at the right edge or under prefixes that grow side by side in the middle of the
// tree (TPC-C's orders per district, warehouses loaded in parallel), must fill pages to
// about 15/16; random inserts must still split in the middle.
func TestPageFill(t *testing.T) {
	ctx := context.Background()
	const n = 6000
	val := make([]byte, 200)
	cases := []struct {
		name    string
		key     func(i int) []byte
		minFill float64
		maxFill float64
	}{
		{"ascending", func(i int) []byte { return []byte(fmt.Sprintf("k%08d", i)) }, 0.85, 0.95},
		{"four prefixes side by side", func(i int) []byte { return []byte(fmt.Sprintf("w%d/%08d", i%4, i/4)) }, 0.85, 0.95},
		{"an ascending run into a gap", func(i int) []byte {
			if i < n/3 {
				return []byte(fmt.Sprintf("g%08d", i*100000))
			}
			return []byte(fmt.Sprintf("g%08d", 5000+i))
		}, 0.75, 0.95},
		{"random", func(i int) []byte { return []byte(fmt.Sprintf("r%08d", rand.New(rand.NewPCG(uint64(i), 7)).IntN(1e8))) }, 0.55, 0.85},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 4096)
			tr := e.create(t)
			bytes := 0
			for i := 0; i < n; i++ {
				k := c.key(i)
				bytes += page.CellCost(len(leafCellInline(k, val)))
				e.write(t, func(m *mtr.Mtr) error { return tr.Put(m, k, val) })
			}
			st, err := tr.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			fill := float64(bytes) / float64(st.Leaves*(page.Size-page.HeaderSize))
			t.Logf("%d leaves for %d entries: %.0f%% full", st.Leaves, st.Entries, 100*fill)
			if fill < c.minFill || fill > c.maxFill {
				t.Errorf("leaves %.0f%% full, want %.0f%%–%.0f%%", 100*fill, 100*c.minFill, 100*c.maxFill)
			}
		})
	}
}
