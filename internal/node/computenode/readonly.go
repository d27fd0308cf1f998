package computenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
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
// returns the writer epoch it took when it won a failover (0 when ctx ended), with the node,
// still open (its replay runs on), for the writer to take its buffer pool; the caller closes it.
func runReadOnly(ctx context.Context, opts Options, mc *meta.Client, m *node.Metrics) (uint64, *cluster.ReadOnly, error) {
	lg := opts.Logger
	r, err := cluster.OpenReadOnly(ctx, cluster.ReadOnlyOptions{Meta: mc, ID: opts.ID, Secret: opts.Secret,
		Metrics: m.Addr(), PoolFrames: opts.PoolFrames, Logger: lg})
	if err != nil {
		return 0, nil, err
	}
	keep := false
	defer func() {
		if !keep {
			r.Close()
		}
	}()
	m.MustRegister(EngineCollectors(r.DB)...)
	m.MustRegister(ReplayCollectors(r.DB)...)
	select {
	case <-r.Ready():
	case <-ctx.Done():
		return 0, nil, nil
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
	go func() {
		select {
		case <-r.Moved():
			cancel()
		case <-sctx.Done():
		}
	}()
	so := opts.SQL
	so.ReadOnly = true
	so.Logger, so.Registerer, so.ProxySecret = lg, m.Registerer(), opts.Secret
	so.Snapshots = SnapshotsOf(mc, r.Timeline())
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
		// The read-only engine stays open: once the writer recovered the log with the new
		// epoch, its replay reaches the log's end and it hands its buffer pool over.
		keep = true
		return e, r, nil
	default:
	}
	select {
	case <-r.Moved():
		return 0, nil, errMainMoved
	default:
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return 0, nil, err
}

// watchWriter watches the writer until this node wins the writer epoch (it returns it) or ctx
// ends (0).
func watchWriter(ctx context.Context, mc *meta.Client, id string, lease time.Duration, lg *slog.Logger) uint64 {
	w := &failover.Watcher{Self: id, Lease: lease, QuickLease: min(lease, quickLease), Grace: holderGrace}
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	var lastOK time.Time // the last successful read of the control plane
	var lastWhy string
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
		if !lastOK.IsZero() {
			s.Blind = s.Now.Sub(lastOK)
		}
		lastOK = s.Now
		d := w.Observe(s)
		if d.Why != lastWhy && d.Action == failover.Wait && !strings.HasPrefix(d.Why, "writer ") {
			lg.Debug("compute: watching the writer", "decision", d.String(), "blind", s.Blind.Round(time.Millisecond), "nodes", fmt.Sprintf("%+v", s.Nodes))
		}
		lastWhy = d.Why
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
