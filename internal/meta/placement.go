package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"strata/internal/placement"
)

// The segment placement (internal/placement says what it means) is recorded as JSON under one
// key; these functions load, record and update it.

// Placement returns the placement and whether one is recorded.
func (c *Client) Placement(ctx context.Context) (placement.Placement, bool, error) {
	p, _, ok, err := c.placement(ctx)
	return p, ok, err
}

func (c *Client) placement(ctx context.Context) (placement.Placement, int64, bool, error) {
	r, err := c.c.Get(ctx, c.k.placement())
	if err != nil {
		return placement.Placement{}, 0, false, fmt.Errorf("meta: read placement: %w", err)
	}
	if len(r.Kvs) == 0 {
		return placement.Placement{}, 0, false, nil
	}
	var p placement.Placement
	if err := json.Unmarshal(r.Kvs[0].Value, &p); err != nil {
		return placement.Placement{}, 0, false, fmt.Errorf("meta: malformed placement: %w", err)
	}
	return p, r.Kvs[0].ModRevision, true, nil
}

// SetPlacement records the placement.
func (c *Client) SetPlacement(ctx context.Context, p placement.Placement) error {
	b, err := encodePlacement(p)
	if err != nil {
		return err
	}
	if _, err := c.c.Put(ctx, c.k.placement(), string(b)); err != nil {
		return fmt.Errorf("meta: record placement: %w", err)
	}
	return nil
}

func encodePlacement(p placement.Placement) ([]byte, error) {
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
func (c *Client) UpdatePlacement(ctx context.Context, fn func(p *placement.Placement, ok bool) error) (placement.Placement, error) {
	for range 8 {
		p, rev, ok, err := c.placement(ctx)
		if err != nil {
			return placement.Placement{}, err
		}
		if ok {
			p = p.Clone()
		}
		if err := fn(&p, ok); err != nil {
			return placement.Placement{}, err
		}
		b, err := encodePlacement(p)
		if err != nil {
			return placement.Placement{}, err
		}
		key := c.k.placement()
		cmp := clientv3.Compare(clientv3.ModRevision(key), "=", rev) // 0: the key does not exist
		r, err := c.c.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(b))).Commit()
		if err != nil {
			return placement.Placement{}, fmt.Errorf("meta: record placement: %w", err)
		}
		if r.Succeeded {
			return p, nil
		}
	}
	return placement.Placement{}, ErrPlacementRace
}
