package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Placement says which Page Stores hold each segment of the page space: a listed segment is on
// the stores Segments names, every other segment on Default (the stores that take the
// database's growth). A segment being moved is also kept by the store Moving names, which
// copies it from the replicas; when the copy is done the move replaces one replica with it.
type Placement struct {
	SegmentPages uint64              `json:"segment_pages"`     // pages per segment
	Default      []string            `json:"default,omitempty"` // Page Store IDs of every unlisted segment
	Segments     map[uint64][]string `json:"segments"`          // segment → Page Store IDs
	Moving       map[uint64]Move     `json:"moving,omitempty"`  // moves under way
}

// Move is a segment moving from one Page Store to another.
type Move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Replicas returns the IDs of the Page Stores serving segment seg.
func (p Placement) Replicas(seg uint64) []string {
	if r, ok := p.Segments[seg]; ok {
		return r
	}
	return p.Default
}

// Stores returns every Page Store ID the placement names, sorted, each once.
func (p Placement) Stores() []string {
	all := slices.Clone(p.Default)
	for _, r := range p.Segments {
		all = append(all, r...)
	}
	for _, m := range p.Moving {
		all = append(all, m.To)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// Clone returns a deep copy.
func (p Placement) Clone() Placement {
	c := p
	c.Default = slices.Clone(p.Default)
	c.Segments = make(map[uint64][]string, len(p.Segments))
	for seg, r := range p.Segments {
		c.Segments[seg] = slices.Clone(r)
	}
	c.Moving = maps.Clone(p.Moving)
	return c
}

// Placement returns the placement and whether one is recorded.
func (c *Client) Placement(ctx context.Context) (Placement, bool, error) {
	p, _, ok, err := c.placement(ctx)
	return p, ok, err
}

func (c *Client) placement(ctx context.Context) (Placement, int64, bool, error) {
	r, err := c.c.Get(ctx, c.k.placement())
	if err != nil {
		return Placement{}, 0, false, fmt.Errorf("meta: read placement: %w", err)
	}
	if len(r.Kvs) == 0 {
		return Placement{}, 0, false, nil
	}
	var p Placement
	if err := json.Unmarshal(r.Kvs[0].Value, &p); err != nil {
		return Placement{}, 0, false, fmt.Errorf("meta: malformed placement: %w", err)
	}
	return p, r.Kvs[0].ModRevision, true, nil
}

// SetPlacement records the placement.
func (c *Client) SetPlacement(ctx context.Context, p Placement) error {
	b, err := encodePlacement(p)
	if err != nil {
		return err
	}
	if _, err := c.c.Put(ctx, c.k.placement(), string(b)); err != nil {
		return fmt.Errorf("meta: record placement: %w", err)
	}
	return nil
}

func encodePlacement(p Placement) ([]byte, error) {
	if p.SegmentPages == 0 {
		return nil, errors.New("meta: placement with 0 pages per segment")
	}
	return json.Marshal(p)
}

// ErrPlacementRace is returned by UpdatePlacement when the placement kept changing under it.
var ErrPlacementRace = errors.New("meta: the placement changed concurrently")

// UpdatePlacement applies fn to the recorded placement (ok false: none is recorded) and
// records the result if the placement did not change meanwhile, retrying a few times when it
// did. fn returning an error leaves the placement as it is.
func (c *Client) UpdatePlacement(ctx context.Context, fn func(p *Placement, ok bool) error) (Placement, error) {
	for range 8 {
		p, rev, ok, err := c.placement(ctx)
		if err != nil {
			return Placement{}, err
		}
		if ok {
			p = p.Clone()
		}
		if err := fn(&p, ok); err != nil {
			return Placement{}, err
		}
		b, err := encodePlacement(p)
		if err != nil {
			return Placement{}, err
		}
		key := c.k.placement()
		cmp := clientv3.Compare(clientv3.ModRevision(key), "=", rev) // 0: the key does not exist
		r, err := c.c.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(b))).Commit()
		if err != nil {
			return Placement{}, fmt.Errorf("meta: record placement: %w", err)
		}
		if r.Succeeded {
			return p, nil
		}
	}
	return Placement{}, ErrPlacementRace
}
