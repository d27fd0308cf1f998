package cluster

import (
	"context"
	"slices"

	"strata/internal/meta"
	"strata/internal/pageclient"
	"strata/internal/placement"
)

// Segment placement. The control plane's placement.Placement names Page Stores by ID
// (internal/placement derives what each store keeps and plans moves); here the compute node
// turns it into the addresses to read each segment from.

// ClientPlacement returns the placement by address for the compute node's page client:
// serving replicas only (a store a segment is moving to serves it only once the move is
// recorded), and every other Page Store in addrOf as Others. A store without a known address
// is left out.
func ClientPlacement(p placement.Placement, addrOf map[string]string) pageclient.Static {
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

// LoadPlacement reads the placement and the Page Stores' addresses (from their status, or the
// member record of a store that is down) from the control plane.
func LoadPlacement(ctx context.Context, mc *meta.Client) (placement.Placement, bool, map[string]string, error) {
	p, ok, err := mc.Placement(ctx)
	if err != nil {
		return placement.Placement{}, false, nil, err
	}
	nodes, err := mc.Nodes(ctx)
	if err != nil {
		return placement.Placement{}, false, nil, err
	}
	addrOf := map[string]string{}
	for _, n := range nodes {
		if n.Role == meta.RolePageStore {
			addrOf[n.ID] = n.Addr
		}
	}
	return p, ok, addrOf, nil
}
