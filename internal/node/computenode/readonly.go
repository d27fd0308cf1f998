package computenode

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"strata/internal/cluster"
	"strata/internal/failover"
	"strata/internal/meta"
	"strata/internal/node"
)

// watchInterval is how often a read-only node looks at the writer.
const watchInterval = 100 * time.Millisecond

// quickLease is how long the writer's status (published every 200 ms) may be silent before a
// read-only node probes its MySQL address, and takes over if nothing listens there: a writer
// whose process died is replaced without waiting for the whole failover lease.
const quickLease = 400 * time.Millisecond

// runReadOnly runs a read-only node: it serves MySQL once the writer honours its horizon. It
// returns the writer epoch it took when it won a failover (0 when ctx ended).
func runReadOnly(ctx context.Context, opts Options, mc *meta.Client, m *node.Metrics) (uint64, error) {
	lg := opts.Logger
	r, err := cluster.OpenReadOnly(ctx, cluster.ReadOnlyOptions{Meta: mc, ID: opts.ID, Secret: opts.Secret,
		Metrics: m.Addr(), PoolFrames: opts.PoolFrames, Logger: lg})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	m.MustRegister(EngineCollectors(r.DB)...)
	m.MustRegister(ReplayCollectors(r.DB)...)
	select {
	case <-r.Ready():
	case <-ctx.Done():
		return 0, nil
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	won := make(chan uint64, 1)
	if !opts.NoFailover {
		go func() {
			if e := watchWriter(sctx, mc, opts.ID, opts.FailoverLease, lg); e > 0 {
				won <- e
				cancel()
			}
		}()
	}
	so := opts.SQL
	so.ReadOnly = true
	so.Logger, so.Registerer, so.ProxySecret = lg, m.Registerer(), opts.Secret
	so.Ready = func(addr net.Addr, health func() error) {
		r.SetAddr(addr.String())
		r.SetHealth(health)
		if opts.Ready != nil {
			opts.Ready(addr)
		}
	}
	err = ServeSQL(sctx, r.DB, so)
	select {
	case e := <-won:
		// The read-only engine goes (its buffer pool with it): the writer recovers the log
		// with the new epoch and opens on the Page Stores.
		if cerr := r.Close(); cerr != nil {
			lg.Warn("compute: close the read-only engine", "err", cerr)
		}
		return e, nil
	default:
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return 0, err
}

// watchWriter watches the writer until this node wins the writer epoch (it returns it) or ctx
// ends (0).
func watchWriter(ctx context.Context, mc *meta.Client, id string, lease time.Duration, lg *slog.Logger) uint64 {
	w := &failover.Watcher{Self: id, Lease: lease, QuickLease: min(lease, quickLease), Grace: holderGrace}
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		s, err := snapshot(qctx, mc, w.QuickLease)
		if err != nil {
			cancel()
			continue
		}
		d := w.Observe(s)
		if d.Action == failover.Claim {
			e, err := mc.ClaimEpoch(qctx, d.Epoch, id)
			cancel()
			if err == nil {
				lg.Warn("compute: took the writer epoch", "epoch", e, "why", d.Why)
				return e
			}
			lg.Info("compute: lost the claim for the writer epoch", "seen", d.Epoch, "err", err)
			continue
		}
		cancel()
	}
}
