package cluster

import (
	"context"
	"time"

	"strata/internal/meta"
	"strata/internal/page"
)

// ReaderInterval is how often the writer reads the read-only nodes' horizons.
const ReaderInterval = 200 * time.Millisecond

// followReaders keeps the engine's purge behind every read-only node's oldest read view: each
// live node's published horizon is reported to the engine (engine.DB.ReportSnapshot), a node
// that is down (its lease lapsed, or silent for meta.HeartbeatTimeout) stops holding it back,
// and a node seen for the first time is acknowledged in the writer's status with the LSN from
// which its horizon is honoured (the engine's horizon just after the report, which never goes
// back): versions older than that may already be gone, so the node serves only snapshots at
// or past it (ReadOnly.Ready).
func (c *Compute) followReaders() {
	defer c.wg.Done()
	t := time.NewTicker(ReaderInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if c.reportReaders(ctx) && c.reg != nil {
			// A new reader waits for its acknowledgement: publish it now.
			if err := c.reg.Update(ctx, c.status(c.epoch)); err != nil {
				c.opts.Logger.Debug("compute: publish status", "err", err)
			}
		}
		cancel()
	}
}

// reportReaders does one round of followReaders; it reports whether a reader was
// acknowledged.
func (c *Compute) reportReaders(ctx context.Context) bool {
	nodes, err := c.own.Nodes(ctx)
	if err != nil {
		return false
	}
	now := time.Now()
	live := map[string]bool{}
	acked := false
	for _, n := range nodes {
		if n.Role != meta.RoleRO || n.IsDown(now) || n.Horizon == 0 {
			continue
		}
		key := n.ReaderKey()
		live[key] = true
		c.ReportSnapshot(key, page.LSN(n.Horizon))
		c.ReportPinned(key, page.LSN(n.Pinned)) // its AS OF views (0: none)
		c.acksMu.Lock()
		if _, ok := c.acks[key]; !ok {
			c.acks[key] = uint64(c.Horizon())
			acked = true
			c.opts.Logger.Info("compute: a read-only node holds the purge horizon", "reader", key, "horizon", n.Horizon, "from", c.acks[key])
		}
		c.acksMu.Unlock()
	}
	c.acksMu.Lock()
	for key := range c.acks {
		if !live[key] {
			c.ReportSnapshot(key, 0)
			c.ReportPinned(key, 0)
			delete(c.acks, key)
			c.opts.Logger.Info("compute: a read-only node no longer holds the purge horizon", "reader", key)
		}
	}
	c.acksMu.Unlock()
	return acked
}
