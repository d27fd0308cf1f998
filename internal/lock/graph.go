package lock

import (
	"slices"
	"sync"
)

// maxSearch bounds the deadlock search; a search that visits more transactions than this is
// treated as a deadlock, as InnoDB does.
const maxSearch = 1000

// waitGraph is the wait-for graph: an edge T -> U means a request of T waits for U. Only
// blocked requests are in it, so the uncontended path never touches it. Its mutex nests inside
// a shard mutex (shard -> graph -> txn shard); the blockers field of every request is
// protected by it.
type waitGraph struct {
	mu      sync.Mutex
	waiting map[TxnID][]*request // blocked requests of each transaction
	// waitedOn counts the edges into each transaction: one that nobody waits for closes no
	// cycle by waiting, and cycleFrom need not search (an autocommit UPDATE queued behind
	// hundreds of others on a hot row holds no lock yet).
	waitedOn map[TxnID]int
	seen     map[TxnID]struct{} // scratch for cycleFrom
	edges    []TxnID            // scratch for refreshLocked
	stack    []TxnID            // scratch for cycleFrom
}

// addLocked puts r in the graph if it is not there yet; its edges are r.blockers.
func (g *waitGraph) addLocked(r *request) {
	if r.inGraph {
		return
	}
	if g.waiting == nil {
		g.waiting = make(map[TxnID][]*request)
	}
	r.inGraph = true
	g.waiting[r.txn] = append(g.waiting[r.txn], r)
}

// setBlockersLocked makes (a copy of) b the edges of r, keeping waitedOn.
func (g *waitGraph) setBlockersLocked(r *request, b []TxnID) {
	if slices.Equal(r.blockers, b) {
		return // the usual case in a long queue: only the edges near its head change
	}
	if g.waitedOn == nil {
		g.waitedOn = make(map[TxnID]int)
	}
	for _, t := range r.blockers {
		if g.waitedOn[t]--; g.waitedOn[t] <= 0 {
			delete(g.waitedOn, t)
		}
	}
	for _, t := range b {
		g.waitedOn[t]++
	}
	r.blockers = append(r.blockers[:0], b...)
}

// removeLocked takes r and its edges out of the graph.
func (g *waitGraph) removeLocked(r *request) {
	if !r.inGraph {
		return
	}
	r.inGraph = false
	g.setBlockersLocked(r, nil)
	reqs := g.waiting[r.txn]
	for i, q := range reqs {
		if q == r {
			reqs[i] = reqs[len(reqs)-1]
			reqs[len(reqs)-1] = nil
			reqs = reqs[:len(reqs)-1]
			break
		}
	}
	if len(reqs) == 0 {
		delete(g.waiting, r.txn)
	} else {
		g.waiting[r.txn] = reqs
	}
}

// cycleFrom reports whether a path of wait-for edges leads from txn back to itself, or the
// search grew past maxSearch transactions.
func (g *waitGraph) cycleFrom(txn TxnID) bool {
	if g.waitedOn[txn] == 0 {
		return false // no edge leads back to it
	}
	if g.seen == nil {
		g.seen = make(map[TxnID]struct{})
	}
	defer func() {
		clear(g.seen)
		g.stack = g.stack[:0]
	}()
	g.stack = append(g.stack[:0], txn)
	for len(g.stack) > 0 {
		t := g.stack[len(g.stack)-1]
		g.stack = g.stack[:len(g.stack)-1]
		for _, r := range g.waiting[t] {
			for _, b := range r.blockers {
				if b == txn {
					return true
				}
				if _, ok := g.seen[b]; ok {
					continue
				}
				if len(g.seen) >= maxSearch {
					return true
				}
				g.seen[b] = struct{}{}
				g.stack = append(g.stack, b)
			}
		}
	}
	return false
}
