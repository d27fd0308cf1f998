package meta

import (
	"context"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Epoch returns the current writer epoch (0 before any writer started).
func (c *Client) Epoch(ctx context.Context) (uint64, error) {
	e, _, err := c.epoch(ctx)
	return e, err
}

func (c *Client) epoch(ctx context.Context) (uint64, int64, error) {
	r, err := c.c.Get(ctx, c.k.epoch())
	if err != nil {
		return 0, 0, fmt.Errorf("meta: read the epoch: %w", err)
	}
	if len(r.Kvs) == 0 {
		return 0, 0, nil
	}
	e, err := strconv.ParseUint(string(r.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("meta: malformed epoch %q: %w", r.Kvs[0].Value, err)
	}
	return e, r.Kvs[0].ModRevision, nil
}

// BumpEpoch raises the writer epoch by one with a compare-and-swap and returns the new
// epoch: exactly one of several concurrent callers gets each epoch. It retries a few times
// when it loses a race and then returns ErrEpochRace.
func (c *Client) BumpEpoch(ctx context.Context) (uint64, error) {
	for range 8 {
		cur, rev, err := c.epoch(ctx)
		if err != nil {
			return 0, err
		}
		next := cur + 1
		key := c.k.epoch()
		r, err := c.c.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, strconv.FormatUint(next, 10))).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("meta: bump the epoch: %w", err)
		}
		if r.Succeeded {
			return next, nil
		}
	}
	return 0, ErrEpochRace
}
