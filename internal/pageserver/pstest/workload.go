// Package pstest builds what tests of the Page Store service and its clients need: a redo
// workload in an in-memory log, and Page Store replicas (a pagestore.Store served by a
// pageserver.Server on loopback) that the test stops at its end.
package pstest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage/memstore"
)

// Workload appends random mini-transactions on a few pages to an in-memory log. It keeps its
// own copy of every page (applied with redo.Apply) only to generate records that apply.
type Workload struct {
	Log   *memstore.Log
	IDs   []page.ID  // the pages that get records
	Ends  []page.LSN // the LSN after each group
	Times []int64    // the commit time of each group (µs since the Unix epoch)
	// Clock gives each commit's time; nil: the wall clock.
	Clock func() int64
	rng   *rand.Rand
	view  map[page.ID]*page.Page
	txn   uint64
}

// NewWorkload returns a workload over pages first .. first+n-1 of a new log.
func NewWorkload(seed uint64, first page.ID, n int) *Workload {
	w := &Workload{Log: memstore.NewLog(), rng: rand.New(rand.NewPCG(seed, 99)), view: make(map[page.ID]*page.Page)}
	for i := range n {
		id := first + page.ID(i)
		w.IDs = append(w.IDs, id)
		w.view[id] = new(page.Page)
	}
	return w
}

// Groups appends n groups of one to four records each, every group committed.
func (w *Workload) Groups(n int) error {
	for range n {
		g := redo.NewGroup()
		start := w.Log.End()
		for range 1 + w.rng.IntN(4) {
			off := page.LSN(g.Len())
			id := w.IDs[w.rng.IntN(len(w.IDs))]
			r := w.op(g, id)
			if err := redo.Apply(w.view[id], start+off, r); err != nil {
				return fmt.Errorf("pstest: apply %s: %w", r, err)
			}
		}
		w.txn++
		at := time.Now().UnixMicro()
		if w.Clock != nil {
			at = w.Clock()
		}
		g.Commit(w.txn, at)
		_, end, err := w.Log.Append(g.Bytes(), true)
		if err != nil {
			return fmt.Errorf("pstest: append: %w", err)
		}
		w.Ends = append(w.Ends, end)
		w.Times = append(w.Times, at)
	}
	return nil
}

// op adds one record for page id to g: an init on a fresh page, else mostly inserts.
func (w *Workload) op(g *redo.Group, id page.ID) redo.Record {
	p := w.view[id]
	if p.Type() == page.TypeZero {
		return g.Init(id, page.TypeLeaf, 0, 2)
	}
	n := p.NumCells()
	cell := make([]byte, 1+w.rng.IntN(200))
	for i := range cell {
		cell[i] = byte(w.rng.Uint32())
	}
	if n > 0 && (w.rng.IntN(4) == 0 || !p.Fits(len(cell))) {
		return g.Delete(id, w.rng.IntN(n))
	}
	return g.Insert(id, w.rng.IntN(n+1), cell)
}

// LSNs returns n positions between the first and the last group end: group ends and
// arbitrary bytes.
func (w *Workload) LSNs(n int) []page.LSN {
	lo, hi := redo.StartLSN, w.Ends[len(w.Ends)-1]
	out := []page.LSN{lo + 1, hi}
	for len(out) < n {
		if w.rng.IntN(2) == 0 {
			out = append(out, w.Ends[w.rng.IntN(len(w.Ends))])
		} else {
			out = append(out, lo+1+page.LSN(w.rng.Uint64N(uint64(hi-lo))))
		}
	}
	return out
}
