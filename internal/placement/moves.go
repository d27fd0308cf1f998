package placement

import (
	"cmp"
	"fmt"
	"slices"

	"strata/internal/page"
)

// PlanAdd returns the moves that give Page Store to its share of the segments in use (used),
// and p with every used segment listed (a listed segment keeps its replicas when Default
// changes; listing one that was on Default moves no data). Moves take segments from the
// stores holding the most, one replica at a time, never to a store that already holds the
// segment or is receiving it.
func PlanAdd(p Placement, used []uint64, to string) (Placement, []uint64, error) {
	p = p.Clone()
	if p.SegmentPages == 0 {
		return p, nil, fmt.Errorf("placement: no placement recorded")
	}
	for _, seg := range used {
		if _, ok := p.Segments[seg]; !ok {
			if len(p.Default) == 0 {
				return p, nil, fmt.Errorf("placement: segment %d is in use but no Page Store holds it", seg)
			}
			p.Segments[seg] = slices.Clone(p.Default)
		}
	}
	count := map[string]int{to: 0}
	held := map[string][]uint64{}
	total := 0
	for seg, r := range p.Segments {
		for _, id := range r {
			count[id]++
			held[id] = append(held[id], seg)
			total++
		}
	}
	for _, m := range p.Moving {
		if m.To == to {
			count[to]++ // already coming
		}
	}
	target := total / len(count)
	var moves []uint64
	for count[to] < target {
		// The store holding the most (ties: lowest ID) gives its lowest segment that the new
		// store does not hold and that is not moving.
		var from string
		for id, n := range count {
			if id != to && (from == "" || n > count[from] || n == count[from] && id < from) {
				from = id
			}
		}
		if from == "" || count[from] <= count[to]+1 {
			break
		}
		slices.Sort(held[from])
		i := slices.IndexFunc(held[from], func(seg uint64) bool {
			_, moving := p.Moving[seg]
			return !moving && !slices.Contains(p.Segments[seg], to)
		})
		if i < 0 {
			count[from] = -1 // nothing it can give
			continue
		}
		seg := held[from][i]
		held[from] = slices.Delete(held[from], i, i+1)
		if p.Moving == nil {
			p.Moving = map[uint64]Move{}
		}
		p.Moving[seg] = Move{From: from, To: to}
		count[from]--
		count[to]++
		moves = append(moves, seg)
	}
	slices.SortFunc(moves, cmp.Compare)
	return p, moves, nil
}

// FinishMove records that the move of segment seg is done: its destination replaces its
// source among the serving replicas.
func FinishMove(p *Placement, seg uint64) error {
	m, ok := p.Moving[seg]
	if !ok {
		return fmt.Errorf("placement: segment %d is not moving", seg)
	}
	r := slices.Clone(p.Replicas(seg))
	i := slices.Index(r, m.From)
	if i < 0 {
		return fmt.Errorf("placement: segment %d is not on %s any more", seg, m.From)
	}
	r[i] = m.To
	if p.Segments == nil {
		p.Segments = map[uint64][]string{}
	}
	p.Segments[seg] = r
	delete(p.Moving, seg)
	return nil
}

// CopyProgress is a segment a Page Store is copying from a peer: the data side of a move.
type CopyProgress struct {
	Segment uint64
	From    page.LSN // the position it is copied as of
	Copied  int      // pages written so far
	Total   int      // pages the peer announced (0: not yet known)
}
