package pagenode

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"strata/internal/cluster"
	"strata/internal/meta"
	"strata/internal/pageclient"
	"strata/internal/pagestore"
	"strata/internal/placement"
)

// placementFollower keeps a Page Store's ownership in step with the segment placement in the
// control plane, and copies the segments it gains from the other Page Stores.
type placementFollower struct {
	mc     *meta.Client
	id     string
	client *pageclient.Client // to the other Page Stores
	pages  uint64             // the placement's segment size when the store started
	lg     *slog.Logger
}

// newPlacementFollower reads the placement; it returns nil when none is recorded (the store
// then keeps every page).
func newPlacementFollower(ctx context.Context, mc *meta.Client, id, secret string, lg *slog.Logger) (*placementFollower, *placement.Ownership, error) {
	p, ok, err := mc.Placement(ctx)
	if err != nil || !ok {
		return nil, nil, err
	}
	client, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{}, SegmentPages: p.SegmentPages,
		Secret: secret, Logger: lg})
	if err != nil {
		return nil, nil, err
	}
	o := placement.OwnershipOf(p, id)
	return &placementFollower{mc: mc, id: id, client: client, pages: p.SegmentPages, lg: lg}, &o, nil
}

// Source returns the peers to copy segments from: the other replicas of each segment.
func (f *placementFollower) Source() pagestore.SegmentSource {
	others := func(ctx context.Context, ids func(placement.Placement) []string) ([]string, error) {
		p, _, addrOf, err := cluster.LoadPlacement(ctx, f.mc)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, id := range ids(p) {
			if a := addrOf[id]; id != f.id && a != "" {
				out = append(out, a)
			}
		}
		return out, nil
	}
	return pageclient.Peers{Client: f.client,
		Replicas: func(ctx context.Context, seg uint64) ([]string, error) {
			return others(ctx, func(p placement.Placement) []string { return p.Replicas(seg) })
		},
		Rest: func(ctx context.Context) ([]string, error) {
			return others(ctx, func(p placement.Placement) []string { return p.Default })
		}}
}

// run applies the placement to st every second until ctx ends.
func (f *placementFollower) run(ctx context.Context, st *pagestore.Store) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastErr string
	for {
		if err := f.apply(ctx, st); err != nil && ctx.Err() == nil {
			if err.Error() != lastErr {
				f.lg.Error("page store: cannot follow the segment placement", "err", err)
			}
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *placementFollower) apply(ctx context.Context, st *pagestore.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	p, ok, err := f.mc.Placement(ctx)
	if err != nil || !ok {
		return err
	}
	if p.SegmentPages != f.pages {
		return fmt.Errorf("the placement's segment size changed from %d to %d pages", f.pages, p.SegmentPages)
	}
	return st.SetOwnership(placement.OwnershipOf(p, f.id)) // a no-op when nothing changed
}

func (f *placementFollower) Close() error { return f.client.Close() }
