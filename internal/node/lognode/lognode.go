// Package lognode runs a Log Store node: one replica of the redo log (internal/logstore) served
// over gRPC, its metrics, and its status in the control plane.
package lognode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"strata/internal/logstore"
	"strata/internal/meta"
	"strata/internal/node"
)

// Options describe a Log Store node.
type Options struct {
	Dir    string // the store's segment files (timeline 0's; those of timeline N in Dir/timelines/N)
	Listen string // gRPC address (port 0: any free port)
	ID     string // the node's ID in the control plane
	// Peers are the other Log Stores' addresses: damaged ranges are repaired from them.
	Peers  []string
	Secret string // the cluster secret (required)
	// Etcd are the control plane's endpoints, where the node publishes its status (none: it
	// runs on its own).
	Etcd        []string
	MetricsAddr string // where to serve /metrics ("": nowhere)
	Logger      *slog.Logger
	// Ready is called once the store serves, with its address.
	Ready func(addr string)
}

// Run runs the node until ctx ends, its server stops, or the store of a timeline fails (a
// failed store does not heal in place: it is started again and recovers from its files). The
// published status and the metrics but logstore_timelines are timeline 0's; the batch
// histograms count the batches of every timeline.
func Run(ctx context.Context, opts Options) error {
	if opts.Secret == "" {
		return errors.New("lognode: the cluster secret is required")
	}
	lg := opts.Logger
	m, err := node.StartMetrics(opts.MetricsAddr, opts.Secret, lg)
	if err != nil {
		return err
	}
	defer m.Close()
	store, err := logstore.Open(logstore.Options{Dir: opts.Dir, Logger: lg, Peers: opts.Peers, Secret: opts.Secret,
		EventListener: events(m.Registerer())})
	if err != nil {
		return err
	}
	srv, err := logstore.NewServer(store, opts.Secret, lg)
	if err != nil {
		return errors.Join(err, store.Close())
	}
	m.MustRegister(collectors(store, srv)...)
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return errors.Join(fmt.Errorf("listen on %s: %w", opts.Listen, err), srv.Stop(), store.Close())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	st := store.Status()
	lg.Info("log store ready", "addr", lis.Addr().String(), "dir", opts.Dir, "epoch", st.Promised, "end", uint64(st.End),
		"timelines", srv.Timelines())
	unpublish := node.Publish(ctx, opts.Etcd, opts.Secret, lg, func() meta.Node {
		st := store.Status()
		state := meta.StateUp
		if srv.Err() != nil {
			state = meta.StateFailing
		}
		return meta.Node{Role: meta.RoleLogStore, ID: opts.ID, Addr: lis.Addr().String(), Metrics: m.Addr(), PID: os.Getpid(),
			State: state, Epoch: st.Promised, Durable: uint64(st.Durable), Applied: uint64(st.Committed)}
	})
	defer unpublish()
	// Deleted branches' logs go (timelines.go).
	fctx, stopFollow := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		if len(opts.Etcd) > 0 {
			followControlPlane(fctx, opts, srv, lg)
		}
	}()
	if opts.Ready != nil {
		opts.Ready(lis.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-served:
	case <-srv.Failed(): // the store of any timeline
		err = fmt.Errorf("stopping, to be started again: %w", srv.Err())
	}
	stopFollow()
	<-followed
	return errors.Join(err, srv.Stop(), store.Close())
}
