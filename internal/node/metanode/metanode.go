// Package metanode runs the control plane node: an embedded single-member etcd
// (internal/meta) with its own metrics, publishing its status in itself.
package metanode

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/meta"
	"strata/internal/node"
)

// Options describe the control plane node.
type Options struct {
	Dir      string // etcd's data directory
	Listen   string // client address (port 0: any free port)
	PeerAddr string // raft peer address (loopback: this single member never dials it)
	ID       string // the node's ID in the control plane
	// Secret is the cluster secret: etcd then requires the user root with the password
	// derived from it. Empty: no authentication.
	Secret      string
	MetricsAddr string // where to serve /metrics ("": nowhere)
	Logger      *slog.Logger
	// Ready is called once etcd serves, with its client address.
	Ready func(addr string)
}

// Run runs the node until ctx ends or etcd fails.
func Run(ctx context.Context, opts Options) error {
	lg := opts.Logger
	so := meta.ServerOptions{Dir: opts.Dir, ClientAddr: opts.Listen, PeerAddr: opts.PeerAddr, Logger: lg}
	if opts.Secret != "" {
		so.Password = meta.PasswordFromSecret(opts.Secret)
	}
	srv, err := meta.StartServer(ctx, so)
	if err != nil {
		return err
	}
	defer srv.Close()
	// etcd registers its own metrics (and the Go and process collectors) with Prometheus's
	// default registry: serve that one.
	m, err := node.StartMetricsOf(opts.MetricsAddr, opts.Secret, prometheus.DefaultGatherer, lg)
	if err != nil {
		return err
	}
	defer m.Close()
	eps := srv.Endpoints()
	unpublish := node.Publish(ctx, eps, opts.Secret, lg, func() meta.Node {
		return meta.Node{Role: meta.RoleMeta, ID: opts.ID, Addr: eps[0], Metrics: m.Addr(), PID: os.Getpid(), State: meta.StateUp}
	})
	defer unpublish()
	if opts.Ready != nil {
		opts.Ready(eps[0])
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-srv.Err():
		return fmt.Errorf("etcd: %w", err)
	}
}
