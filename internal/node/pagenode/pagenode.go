package pagenode

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/node"
	"strata/internal/pageserver"
	"strata/internal/pagestore"
	"strata/internal/placement"
	"strata/internal/retry"
)

// Options describe a Page Store node.
type Options struct {
	Dir      string   // the store's pebble directory
	Listen   string   // gRPC address (port 0: any free port)
	ID       string   // the node's ID in the control plane
	LogAddrs []string // the Log Stores (required)
	Secret   string   // the cluster secret (required)
	// Etcd are the control plane's endpoints, where the node publishes its status; without
	// Segments it also keeps the segments the placement there gives it, and follows its
	// changes (none: it runs on its own).
	Etcd []string
	// SegmentPages and Segments fix what the store keeps instead (both or neither; neither and
	// no placement: every page).
	SegmentPages uint64
	Segments     []uint64
	// RebuildFrom, when set, is the archive the cluster is being rebuilt from (`strata up
	// --rebuild-from`): an empty store copies its segments from the archive's base.
	RebuildFrom string
	// FlushInterval bounds how long consumed log stays unpersisted (0: the store's default).
	FlushInterval time.Duration
	MetricsAddr   string // where to serve /metrics ("": nowhere)
	Logger        *slog.Logger
	// Ready is called once the store serves, with its address.
	Ready func(addr string)
}

// Run runs the node until ctx ends.
func Run(ctx context.Context, opts Options) error {
	switch {
	case opts.Secret == "":
		return errors.New("pagenode: the cluster secret is required")
	case len(opts.LogAddrs) == 0:
		return errors.New("pagenode: the Log Stores' addresses are required")
	case (opts.SegmentPages == 0) != (len(opts.Segments) == 0):
		return errors.New("pagenode: segments and the segment size go together")
	}
	lg := opts.Logger
	m, err := node.StartMetrics(opts.MetricsAddr, opts.Secret, lg)
	if err != nil {
		return err
	}
	defer m.Close()
	reader, err := openReader(ctx, logclient.ReaderOptions{Addrs: opts.LogAddrs, Secret: opts.Secret, Logger: lg})
	if err != nil {
		return err
	}
	so := pagestore.Options{Dir: opts.Dir, Log: reader, Logger: lg,
		SegmentPages: opts.SegmentPages, Segments: opts.Segments, FlushInterval: opts.FlushInterval,
		EventListener: Events(m.Registerer())}
	// Without fixed segments, a store of a cluster keeps the segments the placement in the
	// control plane gives it, and follows its changes.
	var follow *placementFollower
	var mc *meta.Client
	if len(opts.Etcd) > 0 {
		mc, err = node.DialMeta(ctx, opts.Etcd, opts.Secret, lg, 0)
		if err != nil {
			return errors.Join(err, reader.Close())
		}
		defer mc.Close()
	}
	if mc != nil && len(opts.Segments) == 0 {
		var o *placement.Ownership
		follow, o, err = newPlacementFollower(ctx, mc, opts.ID, opts.Secret, lg)
		if err != nil {
			return errors.Join(err, reader.Close())
		}
		if follow != nil {
			defer follow.Close()
			so.Ownership, so.Source = o, follow.Source()
			if opts.RebuildFrom != "" {
				if so.Source, err = rebuildSourceOf(ctx, opts.RebuildFrom, so.Source); err != nil {
					return errors.Join(err, reader.Close())
				}
			}
		}
	}
	st, err := pagestore.Open(ctx, so)
	if err != nil {
		return errors.Join(err, reader.Close())
	}
	st.Start()
	if follow != nil {
		go follow.run(ctx, st)
	}
	m.MustRegister(Collectors(st, reader, lg)...)
	srv, err := pageserver.Listen(ctx, st, pageserver.Options{Addr: opts.Listen, Secret: opts.Secret, Logger: lg})
	if err != nil {
		return errors.Join(err, st.Close(), reader.Close())
	}
	unregister := node.Publish(ctx, opts.Etcd, opts.Secret, lg, func() meta.Node {
		state := meta.StateUp
		if st.DiskErr() != nil { // a full disk: it serves, but persists nothing until space is back
			state = meta.StateFailing
		}
		return meta.Node{Role: meta.RolePageStore, ID: opts.ID, Addr: srv.Addr(), Metrics: m.Addr(), PID: os.Getpid(), State: state,
			Durable: uint64(reader.Durable()), Applied: uint64(st.Consumed()), Persisted: uint64(st.Persisted())}
	})
	// Branches: a store of each beside the main one (branches.go).
	bctx, stopBranches := context.WithCancel(ctx)
	branchesDone := make(chan struct{})
	if mc != nil {
		bh := &branchHost{mc: mc, dir: opts.Dir, logAddrs: opts.LogAddrs, secret: opts.Secret, flush: opts.FlushInterval,
			base: st, srv: srv, lg: lg}
		go func() { defer close(branchesDone); bh.run(bctx, branchPoll) }()
	} else {
		close(branchesDone)
	}
	lg.Info("page store ready", "addr", srv.Addr(), "dir", opts.Dir, "consumed", uint64(st.Consumed()))
	if opts.Ready != nil {
		opts.Ready(srv.Addr())
	}
	<-ctx.Done()
	unregister()
	stopBranches()
	<-branchesDone // the branch stores read from st: closed first
	return errors.Join(srv.Stop(), st.Close(), reader.Close())
}

// openReader connects to the Log Stores, retrying for a while when none answers (they may be
// starting too); a refusal of the secret is returned at once.
func openReader(ctx context.Context, opts logclient.ReaderOptions) (*logclient.Reader, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := logclient.NewReader(ctx, opts)
		if err == nil {
			return r, nil
		}
		if status.Code(err) == codes.Unauthenticated || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		opts.Logger.Warn("no log store answers yet; retrying", "err", err)
		if !retry.Sleep(ctx, 500*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}
