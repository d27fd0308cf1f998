package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"strata/internal/meta"
	"strata/internal/pageclient"
	"strata/internal/pagestore"
)

// Segment placement. The control plane's meta.Placement names Page Stores by ID; these pure
// functions turn it into what each party needs: a Page Store the segments it keeps, the
// compute node the addresses to read each segment from, and `strata ctl add-pagestore` the
// moves that give a new store its share.

// ReplicasPerSegment is how many Page Stores hold each segment.
const ReplicasPerSegment = 3

// OwnershipOf returns the segments Page Store id keeps under p: those it serves and the one
// being moved to it.
func OwnershipOf(p meta.Placement, id string) pagestore.Ownership {
	o := pagestore.Ownership{SegmentPages: p.SegmentPages, Rest: slices.Contains(p.Default, id), Segments: map[uint64]bool{}}
	for seg, r := range p.Segments {
		o.Segments[seg] = slices.Contains(r, id)
	}
	for seg, m := range p.Moving {
		if m.To == id {
			o.Segments[seg] = true
		}
	}
	return o
}

// ClientPlacement returns the placement by address for the compute node's page client:
// serving replicas only (a store a segment is moving to serves it only once the move is
// recorded), and every other Page Store in addrOf as Others. A store without a known address
// is left out.
func ClientPlacement(p meta.Placement, addrOf map[string]string) pageclient.Static {
	addrs := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			if a, ok := addrOf[id]; ok && a != "" {
				out = append(out, a)
			}
		}
		return out
	}
	s := pageclient.Static{Default: addrs(p.Default), Segments: map[uint64][]string{}}
	for seg, r := range p.Segments {
		s.Segments[seg] = addrs(r)
	}
	ids := make([]string, 0, len(addrOf))
	for id := range addrOf {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s.Others = addrs(ids)
	return s
}

// PlanAdd returns the moves that give Page Store to its share of the segments in use (used),
// and p with every used segment listed (a listed segment keeps its replicas when Default
// changes; listing one that was on Default moves no data). Moves take segments from the
// stores holding the most, one replica at a time, never to a store that already holds the
// segment or is receiving it.
func PlanAdd(p meta.Placement, used []uint64, to string) (meta.Placement, []uint64, error) {
	p = p.Clone()
	if p.SegmentPages == 0 {
		return p, nil, fmt.Errorf("cluster: no placement recorded")
	}
	for _, seg := range used {
		if _, ok := p.Segments[seg]; !ok {
			if len(p.Default) == 0 {
				return p, nil, fmt.Errorf("cluster: segment %d is in use but no Page Store holds it", seg)
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
			p.Moving = map[uint64]meta.Move{}
		}
		p.Moving[seg] = meta.Move{From: from, To: to}
		count[from]--
		count[to]++
		moves = append(moves, seg)
	}
	slices.SortFunc(moves, cmp.Compare)
	return p, moves, nil
}

// FinishMove records that the move of segment seg is done: its destination replaces its
// source among the serving replicas.
func FinishMove(p *meta.Placement, seg uint64) error {
	m, ok := p.Moving[seg]
	if !ok {
		return fmt.Errorf("cluster: segment %d is not moving", seg)
	}
	r := slices.Clone(p.Replicas(seg))
	i := slices.Index(r, m.From)
	if i < 0 {
		return fmt.Errorf("cluster: segment %d is not on %s any more", seg, m.From)
	}
	r[i] = m.To
	if p.Segments == nil {
		p.Segments = map[uint64][]string{}
	}
	p.Segments[seg] = r
	delete(p.Moving, seg)
	return nil
}

// LoadPlacement reads the placement and the Page Stores' addresses (from their status, or the
// member record of a store that is down) from the control plane.
func LoadPlacement(ctx context.Context, mc *meta.Client) (meta.Placement, bool, map[string]string, error) {
	p, ok, err := mc.Placement(ctx)
	if err != nil {
		return meta.Placement{}, false, nil, err
	}
	nodes, err := mc.Nodes(ctx)
	if err != nil {
		return meta.Placement{}, false, nil, err
	}
	addrOf := map[string]string{}
	for _, n := range nodes {
		if n.Role == meta.RolePageStore {
			addrOf[n.ID] = n.Addr
		}
	}
	return p, ok, addrOf, nil
}
