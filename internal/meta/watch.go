package meta

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"strata/internal/retry"
)

// Changes to what a node polls for, pushed by etcd watches so that the node reads the record
// when it changes rather than every few milliseconds: each of the channels below holds one
// value (a send never blocks) and receives one each time a watched key changes, and also when
// a watch had to be opened again (changes may have been missed meanwhile: read the record). It
// is closed when ctx ends. A reader should still read the record now and then (a second or
// so), in case the watch stream stalls.

// SwitchoverChanges reports changes to the planned switchover (RequestSwitchover).
func (c *Client) SwitchoverChanges(ctx context.Context) <-chan struct{} {
	return c.changes(ctx, c.k.switchover())
}

// MainChanges reports changes to the main database's record (Main).
func (c *Client) MainChanges(ctx context.Context) <-chan struct{} {
	return c.changes(ctx, c.k.main())
}

// PendingChanges reports changes to the snapshots and branches (Snapshots, Branches).
func (c *Client) PendingChanges(ctx context.Context) <-chan struct{} {
	return c.changes(ctx, c.k.snapshots(), c.k.branches())
}

// TimelineChanges reports changes to the records Timelines and Branches read: the main
// database's, the branches and the retired timelines.
func (c *Client) TimelineChanges(ctx context.Context) <-chan struct{} {
	return c.changes(ctx, c.k.main(), c.k.branches(), c.k.retired())
}

// ClusterChanges reports changes to the members (what the cluster should run) and the
// branches.
func (c *Client) ClusterChanges(ctx context.Context) <-chan struct{} {
	return c.changes(ctx, c.k.members(), c.k.branches())
}

// watchRetry is how long a broken watch waits before it is opened again.
const watchRetry = time.Second

// changes watches each key (a prefix when it ends with '/') and merges their events.
func (c *Client) changes(ctx context.Context, keys ...string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	for _, key := range keys {
		var opts []clientv3.OpOption
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
	go func() {
		wg.Wait()
		close(ch)
	}()
	return ch
}
