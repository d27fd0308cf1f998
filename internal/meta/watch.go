package meta

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"strata/internal/retry"
)

// Changes to what a node would otherwise poll for, pushed by etcd watches. Each channel below
// holds one value (a send never blocks) and receives one once its watches are in place (a
// change made before then is not missed), each time a watched key changes, when a watch had
// to be opened again (changes may have been missed meanwhile), and every resync besides (0:
// never), in case a watch stalls: the receiver reads the record then. It is closed when ctx
// ends.

// SwitchoverChanges reports changes to the planned switchover (RequestSwitchover).
func (c *Client) SwitchoverChanges(ctx context.Context, resync time.Duration) <-chan struct{} {
	return c.changes(ctx, resync, c.k.switchover())
}

// MainChanges reports changes to the main database's record (Main).
func (c *Client) MainChanges(ctx context.Context, resync time.Duration) <-chan struct{} {
	return c.changes(ctx, resync, c.k.main())
}

// PendingChanges reports changes to the snapshots and branches (Snapshots, Branches).
func (c *Client) PendingChanges(ctx context.Context, resync time.Duration) <-chan struct{} {
	return c.changes(ctx, resync, c.k.snapshots(), c.k.branches())
}

// TimelineChanges reports changes to the records Timelines and Branches read: the main
// database's, the branches and the retired timelines.
func (c *Client) TimelineChanges(ctx context.Context, resync time.Duration) <-chan struct{} {
	return c.changes(ctx, resync, c.k.main(), c.k.branches(), c.k.retired())
}

// ClusterChanges reports changes to the members (what the cluster should run) and the
// branches.
func (c *Client) ClusterChanges(ctx context.Context, resync time.Duration) <-chan struct{} {
	return c.changes(ctx, resync, c.k.members(), c.k.branches())
}

// watchRetry is how long a broken watch waits before it is opened again.
const watchRetry = time.Second

// changes watches each key (a prefix when it ends with '/') and merges their events, with a
// tick every resync.
func (c *Client) changes(ctx context.Context, resync time.Duration, keys ...string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	for _, key := range keys {
		opts := []clientv3.OpOption{clientv3.WithCreatedNotify()} // a first event once in place
		if key != "" && key[len(key)-1] == '/' {
			opts = append(opts, clientv3.WithPrefix())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
				for resp := range c.c.Watch(wctx, key, opts...) {
					if resp.Err() != nil || resp.Canceled {
						break
					}
					notify()
				}
				cancel()
				if ctx.Err() != nil {
					return
				}
				notify() // the watch ended: changes may have been missed
				retry.Sleep(ctx, watchRetry)
			}
		}()
	}
	if resync > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for retry.Sleep(ctx, resync) {
				notify()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(ch)
	}()
	return ch
}
