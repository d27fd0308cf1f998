package replay

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"strata/internal/page"
)

// walk drives an edge with a random interleaving of records (groups over a few pages, some
// voided), misses, fetch completions and failures, evictions, readers and re-syncs, checking
// the invariants after every step. It returns the first violation with the steps that led to
// it, and counts what happened in seen.
func walk(seed uint64, n int, neon bool, seen map[string]int) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	e := newEdge(1000, neon)
	var tokens []Token // fetches issued, not yet done or failed
	var views []page.LSN
	var trace []string
	const pages = 4
	randPage := func() page.ID { return page.ID(1 + rng.IntN(pages)) }
	for i := 0; i < n; i++ {
		var what string
		var err error
		switch op := rng.IntN(100); {
		case op < 35: // a record; a third of them end the group, some name no page
			pg := randPage()
			if rng.IntN(6) == 0 {
				pg = page.Invalid
			}
			var r Rec
			var d Decision
			r, d, err = e.record(pg, rng.IntN(3) == 0)
			what = fmt.Sprintf("record %d p%d end=%v: %v publish=%v %s", r.LSN, pg, r.GroupEnd, d.Action, d.Publish, steps(d.Steps))
			for _, s := range d.Steps {
				seen[s.Action.String()]++
			}
		case op < 55: // a miss
			pg := randPage()
			f := e.m.FetchStart(pg)
			what = fmt.Sprintf("fetch p%d: %+v", pg, f)
			switch {
			case f.Cached:
				seen["cached"]++
			case f.Joined:
				seen["join"]++
			default:
				tokens = append(tokens, f.Token)
			}
		case op < 75 && len(tokens) > 0: // a fetched page arrives
			k := rng.IntN(len(tokens))
			tok := tokens[k]
			tokens = append(tokens[:k], tokens[k+1:]...)
			var pg []page.LSN
			var d Done
			pg, d, err = e.fetchDone(tok)
			what = fmt.Sprintf("done f%d: held %v %v page %v", tok, d.Held, d.Outcome, pg)
			seen[d.Outcome.String()]++
			if len(d.Held) > 0 {
				seen["race"]++ // records arrived during the fetch and were applied after it
			}
		case op < 79 && len(tokens) > 0:
			k := rng.IntN(len(tokens))
			tok := tokens[k]
			tokens = append(tokens[:k], tokens[k+1:]...)
			err = e.fetchFailed(tok)
			what = fmt.Sprintf("fail f%d", tok)
		case op < 89: // the pool evicts a cached page or gives up a fetch's frame
			pg := randPage()
			if !e.m.Cached(pg) && e.m.fetches[pg] == nil {
				continue
			}
			if !e.m.Cached(pg) {
				seen["evict-fetching"]++
			}
			err = e.evict(pg)
			what = fmt.Sprintf("evict p%d", pg)
		case op < 92:
			_, _, err = e.abort()
			what = "abort"
			seen["abort"]++
		case op < 96:
			views = append(views, e.m.Acquire())
			what = fmt.Sprintf("acquire %d", views[len(views)-1])
		case op < 99 && len(views) > 0:
			k := rng.IntN(len(views))
			err = e.m.Release(views[k])
			what = fmt.Sprintf("release %d", views[k])
			views = append(views[:k], views[k+1:]...)
		case op == 99:
			group := []page.ID{randPage(), randPage(), page.Invalid}
			_, err = e.truncate([][]page.ID{group})
			what = fmt.Sprintf("truncate %v: resync at %d", group, e.m.View())
			seen["resync"]++
		default:
			continue
		}
		trace = append(trace, what)
		if err != nil {
			return fmt.Errorf("seed %d step %d: %v\n%s", seed, i, err, strings.Join(trace, "\n"))
		}
		if v := checkInvariants(e); len(v) > 0 {
			return fmt.Errorf("seed %d step %d: %s\n%s", seed, i, strings.Join(v, "\n"), strings.Join(trace, "\n"))
		}
	}
	return nil
}

// TestRandom runs random interleavings for a bounded time: every installed page must be the
// log's page at the view, whatever the order of events.
func TestRandom(t *testing.T) {
	budget := 2 * time.Second
	if testing.Short() {
		budget = 200 * time.Millisecond
	}
	seen := map[string]int{}
	start := time.Now()
	runs := 0
	for seed := uint64(1); time.Since(start) < budget; seed++ {
		if err := walk(seed, 300, false, seen); err != nil {
			t.Fatal(err)
		}
		runs++
	}
	t.Logf("%d runs: %v", runs, seen)
	// The walk must reach every interesting case, or it proves little.
	for _, k := range []string{"apply", "hold", "skip", "install", "use", "retry", "join", "cached",
		"race", "abort", "resync", "evict-fetching"} {
		if seen[k] == 0 {
			t.Errorf("no %s in %d runs", k, runs)
		}
	}
}

// TestRandomFindsNeon runs the same walks on a Machine with Neon's bug (records of a page
// being fetched are skipped): the model must catch a stale page, or the checks are too weak
// to trust TestRandom.
func TestRandomFindsNeon(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 200; seed++ {
		if err := walk(seed, 300, true, seen); err != nil {
			t.Logf("caught: %s", strings.SplitN(err.Error(), "\n", 3)[:2])
			return
		}
	}
	t.Fatal("Neon's bug went unnoticed in 200 random runs")
}
