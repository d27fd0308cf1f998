package meta

import (
	"context"
	"encoding/json"
	"fmt"
)

// Placement says which Page Stores hold each segment of the page space.
type Placement struct {
	SegmentPages uint64              `json:"segment_pages"` // pages per segment
	Segments     map[uint64][]string `json:"segments"`      // segment → Page Store IDs
}

// Placement returns the placement and whether one is recorded.
func (c *Client) Placement(ctx context.Context) (Placement, bool, error) {
	r, err := c.c.Get(ctx, c.k.placement())
	if err != nil {
		return Placement{}, false, fmt.Errorf("meta: read placement: %w", err)
	}
	if len(r.Kvs) == 0 {
		return Placement{}, false, nil
	}
	var p Placement
	if err := json.Unmarshal(r.Kvs[0].Value, &p); err != nil {
		return Placement{}, false, fmt.Errorf("meta: malformed placement: %w", err)
	}
	return p, true, nil
}

// SetPlacement records the placement.
func (c *Client) SetPlacement(ctx context.Context, p Placement) error {
	if p.SegmentPages == 0 {
		return fmt.Errorf("meta: placement with 0 pages per segment")
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := c.c.Put(ctx, c.k.placement(), string(b)); err != nil {
		return fmt.Errorf("meta: record placement: %w", err)
	}
	return nil
}
