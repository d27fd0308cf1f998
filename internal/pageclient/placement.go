package pageclient

import "slices"

// Placement says which Page Stores hold each segment.
type Placement interface {
	// Replicas returns the addresses of the Page Stores that hold segment seg. The caller does
	// not modify the slice.
	Replicas(seg uint64) []string
	// Addrs returns every Page Store in the placement, each once.
	Addrs() []string
}

// Static is a fixed placement: Segments lists the replicas of each segment, and a segment not
// listed is on Default. Others are stores that serve no segment yet (one being filled by a
// move): they are asked for their status and given the horizon like the rest.
type Static struct {
	Segments map[uint64][]string
	Default  []string
	Others   []string
}

// Replicas implements Placement.
func (s Static) Replicas(seg uint64) []string {
	if r, ok := s.Segments[seg]; ok {
		return r
	}
	return s.Default
}

// Addrs implements Placement: every address, sorted, without duplicates.
func (s Static) Addrs() []string {
	all := append(slices.Clone(s.Default), s.Others...)
	for _, r := range s.Segments {
		all = append(all, r...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}
