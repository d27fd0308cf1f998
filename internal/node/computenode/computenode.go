// Package computenode runs a compute node of a cluster: the engine over the Log Stores and
// Page Stores (internal/cluster), its MySQL server, its metrics, and its status in the control
// plane. A node changes role with failover (internal/failover): a read-only node that wins the
// writer's epoch becomes the writer on the same MySQL port, and a writer that finds another
// writer at the current epoch, or hands over in a planned switchover, follows it as a
// read-only node. ServeSQL and the engine's collectors also serve `strata up --single`.
package computenode

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"strata/internal/cluster"
	"strata/internal/node"
	"strata/internal/privfs"
	"strata/internal/retry"
)

// Options describe a compute node.
type Options struct {
	Etcd   []string // the control plane's endpoints (required)
	Secret string   // the cluster secret (required)
	ID     string   // the node's ID in the control plane
	// ReadOnly runs a read-only node (`strata compute --role ro`): it follows the writer's
	// log and serves reads; changes fail with 1290.
	ReadOnly bool
	// NoFailover keeps a read-only node from ever taking over as the writer.
	NoFailover bool
	// Branch, when set, runs the writer of that branch (`strata compute --branch NAME`;
	// docs/history.md) instead of the main database's: there is no failover for a branch.
	Branch string
	// FailoverLease is how long the writer's status may be silent before the most caught-up
	// read-only node takes over (default 1 s; see DefaultFailoverLease).
	FailoverLease time.Duration
	// PoolFrames is the buffer pool size in 16 KiB pages.
	PoolFrames int
	// DiskCacheBytes is the size of the second-tier page cache behind the buffer pool, a file
	// in SQL.Dir used while the node writes (0: none; cluster.ComputeOptions.DiskCache).
	DiskCacheBytes int64
	// StallTimeout is how long a commit waits for a Log Store quorum before failing.
	StallTimeout time.Duration
	// SQL is the MySQL server; its Registerer and Ready are the node's own.
	SQL         SQLOptions
	MetricsAddr string // where to serve /metrics ("": nowhere)
	Logger      *slog.Logger
	// Ready is called each time clients can connect (again after a change of role), with the
	// MySQL address.
	Ready func(addr net.Addr)
}

// DefaultFailoverLease is how long a writer may be silent before a read-only node takes over.
const DefaultFailoverLease = time.Second

// Run runs the node until ctx ends or its engine fails (a failed engine refuses every change:
// the node stops, so that its supervisor starts a new one, which recovers from the stores).
func Run(ctx context.Context, opts Options) error {
	if opts.Secret == "" {
		return errors.New("computenode: the cluster secret is required")
	}
	if len(opts.Etcd) == 0 {
		return errors.New("computenode: the control plane's endpoints are required")
	}
	if opts.FailoverLease <= 0 {
		opts.FailoverLease = DefaultFailoverLease
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
		opts.Logger = lg
	}
	mc, err := node.DialMeta(ctx, opts.Etcd, opts.Secret, lg, 0)
	if err != nil {
		return err
	}
	defer mc.Close()
	if err := privfs.MkdirAll(opts.SQL.Dir); err != nil { // the TLS key: owner only
		return err
	}
	if opts.Branch != "" {
		if opts.ReadOnly {
			return errors.New("computenode: a branch has no read-only nodes yet")
		}
		return runBranch(ctx, opts, mc)
	}
	// A node that changes role, or moves with the main database, serves on the port it had:
	// the first one it was given, or the one the system chose for port 0.
	var bound atomic.Int64
	ready := opts.Ready
	opts.Ready = func(addr net.Addr) {
		if a, ok := addr.(*net.TCPAddr); ok {
			bound.CompareAndSwap(0, int64(a.Port))
		}
		if ready != nil {
			ready(addr)
		}
	}
	readOnly := opts.ReadOnly
	var claimed uint64         // an epoch this node took as a read-only node
	var from *cluster.ReadOnly // the read-only node it was, still open to hand over its pool
	var movedAt time.Time      // when the main database last moved to another timeline
	for ctx.Err() == nil {
		if p := bound.Load(); p != 0 {
			opts.SQL.Port = int(p)
		}
		if readOnly {
			epoch, err := withMetrics(opts, lg, func(m *node.Metrics) (uint64, error) {
				var e uint64
				var err error
				e, from, err = runReadOnly(ctx, opts, mc, m)
				return e, err
			})
			if errors.Is(err, errMainMoved) {
				lg.Info("compute: following the main database to its new timeline")
				movedAt = time.Now()
				continue
			}
			if err != nil && time.Since(movedAt) < movedRetry && retry.Sleep(ctx, 200*time.Millisecond) {
				// The new timeline's log may not exist yet: its writer is still starting.
				lg.Debug("compute: the main database's new timeline is not ready yet", "err", err)
				continue
			}
			if err != nil || epoch == 0 {
				return err
			}
			readOnly, claimed = false, epoch
			lg.Info("compute: promoted: this node becomes the writer", "epoch", epoch)
			continue
		}
		epoch := claimed
		claimed = 0
		if epoch == 0 {
			var join bool
			if epoch, join, err = takeEpoch(ctx, mc, opts.ID, lg); err != nil {
				return err
			}
			if join {
				readOnly = true
				continue
			}
		}
		_, err := withMetrics(opts, lg, func(m *node.Metrics) (uint64, error) {
			return 0, runWriter(ctx, opts, mc, m, epoch, from)
		})
		from = nil // runWriter closed it
		if errors.Is(err, errMainMoved) {
			lg.Info("compute: writing the main database on its new timeline")
			continue
		}
		if !errors.Is(err, errSteppedDown) {
			return err
		}
		readOnly = true
	}
	return nil
}

// movedRetry bounds how long a read-only node retries opening after the main database moved
// to another timeline, whose writer creates its log.
const movedRetry = 30 * time.Second

// withMetrics runs f with a metrics server of its own: each role registers its collectors
// anew.
func withMetrics(opts Options, lg *slog.Logger, f func(*node.Metrics) (uint64, error)) (uint64, error) {
	m, err := startMetrics(opts.MetricsAddr, opts.Secret, lg)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	return f(m)
}

// startMetrics starts the metrics server, retrying briefly while the previous role's server
// still holds the address.
func startMetrics(addr, secret string, lg *slog.Logger) (*node.Metrics, error) {
	var err error
	for range 20 {
		var m *node.Metrics
		if m, err = node.StartMetrics(addr, secret, lg); err == nil {
			return m, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, err
}
