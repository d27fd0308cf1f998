// Package computenode runs the read-write compute node of a cluster: the engine over the Log
// Stores and Page Stores (internal/cluster), its MySQL server, its metrics, and its status in
// the control plane. ServeSQL and the engine's collectors also serve `strata up --single`.
package computenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"strata/internal/cluster"
	"strata/internal/meta"
	"strata/internal/node"
	"strata/internal/privfs"
)

// Options describe a compute node.
type Options struct {
	Etcd   []string // the control plane's endpoints (required)
	Secret string   // the cluster secret (required)
	ID     string   // the node's ID in the control plane
	// ReadOnly runs a read-only node (`strata compute --role ro`): it follows the writer's
	// log and serves reads; changes fail with 1290.
	ReadOnly bool
	// PoolFrames is the buffer pool size in 16 KiB pages.
	PoolFrames int
	// StallTimeout is how long a commit waits for a Log Store quorum before failing.
	StallTimeout time.Duration
	// SQL is the MySQL server; its Registerer and Ready are the node's own.
	SQL         SQLOptions
	MetricsAddr string // where to serve /metrics ("": nowhere)
	Logger      *slog.Logger
	// Ready is called once clients can connect, with the MySQL address.
	Ready func(addr net.Addr)
}

// Run runs the node until ctx ends or its engine fails (a failed engine refuses every change:
// the node stops, so that its supervisor starts a new one, which recovers from the stores).
func Run(ctx context.Context, opts Options) error {
	if opts.Secret == "" {
		return errors.New("computenode: the cluster secret is required")
	}
	if len(opts.Etcd) == 0 {
		return errors.New("computenode: the control plane's endpoints are required")
	}
	lg := opts.Logger
	mc, err := node.DialMeta(ctx, opts.Etcd, opts.Secret, lg, 0)
	if err != nil {
		return err
	}
	defer mc.Close()
	if err := privfs.MkdirAll(opts.SQL.Dir); err != nil { // the TLS key: owner only
		return err
	}
	m, err := node.StartMetrics(opts.MetricsAddr, opts.Secret, lg)
	if err != nil {
		return err
	}
	defer m.Close()
	if opts.ReadOnly {
		return runReadOnly(ctx, opts, mc, m)
	}
	c, err := cluster.OpenCompute(ctx, cluster.ComputeOptions{Meta: mc, ID: opts.ID, Secret: opts.Secret,
		Metrics: m.Addr(), PoolFrames: opts.PoolFrames, StallTimeout: opts.StallTimeout, Logger: lg,
		EventListener: CommitEvents(m.Registerer())})
	if err != nil {
		return err
	}
	defer c.Close()
	m.MustRegister(EngineCollectors(c.DB)...)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.Failed():
			cancel()
		case <-sctx.Done():
		}
	}()
	so := opts.SQL
	so.Logger, so.Registerer, so.ProxySecret = lg, m.Registerer(), opts.Secret
	so.Ready = func(addr net.Addr, health func() error) {
		c.SetAddr(addr.String())
		c.SetHealth(health)
		if opts.Ready != nil {
			opts.Ready(addr)
		}
	}
	err = ServeSQL(sctx, c.DB, so)
	if ferr := c.DB.Failure(); ferr != nil && ctx.Err() == nil {
		return fmt.Errorf("stopping: %w", ferr)
	}
	return err
}

// runReadOnly runs a read-only node: it serves MySQL once the writer honours its horizon.
func runReadOnly(ctx context.Context, opts Options, mc *meta.Client, m *node.Metrics) error {
	lg := opts.Logger
	r, err := cluster.OpenReadOnly(ctx, cluster.ReadOnlyOptions{Meta: mc, ID: opts.ID, Secret: opts.Secret,
		Metrics: m.Addr(), PoolFrames: opts.PoolFrames, Logger: lg})
	if err != nil {
		return err
	}
	defer r.Close()
	m.MustRegister(EngineCollectors(r.DB)...)
	m.MustRegister(ReplayCollectors(r.DB)...)
	select {
	case <-r.Ready():
	case <-ctx.Done():
		return nil
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
	return ServeSQL(ctx, r.DB, so)
}
