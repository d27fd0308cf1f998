// Package proxynode runs the Strata proxy (internal/proxy) as a node: it finds the compute
// nodes in the control plane, serves MySQL clients, its metrics, and its status in the
// control plane (role proxy).
package proxynode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/meta"
	"strata/internal/metrics"
	"strata/internal/node"
	"strata/internal/proxy"
	"strata/internal/proxy/route"
)

// Options describe a proxy node.
type Options struct {
	Etcd   []string // the control plane's endpoints (required)
	Secret string   // the cluster secret (required)
	ID     string   // the node's ID in the control plane
	Listen string   // the MySQL address clients connect to (port 0: any free port)
	// Consistency is the sessions' default read consistency.
	Consistency route.Consistency
	// BackendWait bounds how long a statement waits for a reachable RW (0: the proxy's default).
	BackendWait time.Duration
	// LSNWait bounds how long a read waits for an RO to catch up (0: the proxy's default).
	LSNWait     time.Duration
	MetricsAddr string // where to serve /metrics ("": nowhere)
	Logger      *slog.Logger
	// Ready is called once clients can connect, with the MySQL address.
	Ready func(addr net.Addr)
}

// Run runs the proxy until ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Secret == "" {
		return errors.New("proxynode: the cluster secret is required")
	}
	if len(opts.Etcd) == 0 {
		return errors.New("proxynode: the control plane's endpoints are required")
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	mc, err := node.DialMeta(ctx, opts.Etcd, opts.Secret, lg, 0)
	if err != nil {
		return err
	}
	defer mc.Close()
	m, err := node.StartMetrics(opts.MetricsAddr, opts.Secret, lg)
	if err != nil {
		return err
	}
	defer m.Close()
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	srv, err := proxy.Listen(ctx, l, proxy.Options{Discovery: proxy.MetaDiscovery{Client: mc}, Secret: opts.Secret,
		Consistency: opts.Consistency, BackendWait: opts.BackendWait, LSNWait: opts.LSNWait, Logger: lg})
	if err != nil {
		l.Close()
		return err
	}
	defer srv.Close()
	m.MustRegister(collectors(srv)...)
	unpublish := node.Publish(ctx, opts.Etcd, opts.Secret, lg, func() meta.Node {
		state := meta.StateUp
		if srv.Topology().RW == nil {
			state = meta.StateUnhealthy // no RW to send writes to
		}
		return meta.Node{Role: meta.RoleProxy, ID: opts.ID, Addr: srv.Addr().String(), Metrics: m.Addr(),
			PID: os.Getpid(), State: state}
	})
	defer unpublish()
	lg.Info("proxy ready", "addr", srv.Addr().String(), "consistency", opts.Consistency.String())
	if opts.Ready != nil {
		opts.Ready(srv.Addr())
	}
	<-ctx.Done()
	return nil
}

// collectors read the proxy's counters at each scrape.
func collectors(s *proxy.Server) []prometheus.Collector {
	st := s.Stats()
	counter := func(name, help string, f func() int64) prometheus.Collector {
		return metrics.CounterFunc("proxy", name, help, func() float64 { return float64(f()) })
	}
	return []prometheus.Collector{
		metrics.GaugeFunc("proxy", "clients", "Connected clients.", func() float64 { return float64(st.Clients.Load()) }),
		metrics.GaugeFunc("proxy", "idle_backend_connections", "Pooled idle connections to compute nodes.",
			func() float64 { return float64(s.IdleBackends()) }),
		metrics.GaugeFunc("proxy", "read_only_nodes", "Read-only nodes the proxy routes reads to.",
			func() float64 { return float64(len(s.Topology().ROs)) }),
		counter("logins_total", "Clients logged in.", st.Logins.Load),
		counter("login_failures_total", "Logins the read-write node refused (1045 and others).", st.LoginFails.Load),
		counter("statements_rw_total", "Statements sent to the read-write node.", st.ToRW.Load),
		counter("statements_ro_total", "Statements sent to a read-only node.", st.ToRO.Load),
		counter("statements_proxy_total", "Statements the proxy answered itself.", st.ToProxy.Load),
		counter("ro_fallbacks_total", "Reads meant for a read-only node sent to the read-write node.", st.ROFallback.Load),
		counter("lsn_waits_total", "Waits for a read-only node to apply a session's LSN.", st.LSNWaits.Load),
		counter("backend_dials_total", "Connections opened to compute nodes.", st.Dials.Load),
		counter("no_backend_total", "Logins and statements answered 2003: no node reachable in time.", st.NoBackend.Load),
		counter("drained_total", "Statements a draining read-write node (a switchover) refused unexecuted; the proxy sent them to the next one.", st.Drained.Load),
	}
}
