// Package node is what every kind of Strata node shares: its metrics server and registry, its
// connection to the control plane, and the status it publishes there. Each kind is a package
// beneath it (metanode, lognode, pagenode, computenode, singlenode) whose Options describe the
// node and whose Run runs it until its context ends; cmd/strata only turns flags into Options.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/meta"
	"strata/internal/metrics"
)

// Metrics is a node's metrics: a registry with the Go runtime and process collectors, served
// on an HTTP address unless the node serves none.
type Metrics struct {
	srv *metrics.Server
	reg *prometheus.Registry
}

// StartMetrics serves a new registry on addr ("": no server) with secret (see metrics.Options).
func StartMetrics(addr, secret string, lg *slog.Logger) (*Metrics, error) {
	return StartMetricsOf(addr, secret, metrics.NewRegistry(), lg)
}

// StartMetricsOf serves g, which holds its own collectors (etcd's default registry, for the
// meta node), on addr ("": no server).
func StartMetricsOf(addr, secret string, g prometheus.Gatherer, lg *slog.Logger) (*Metrics, error) {
	reg, _ := g.(*prometheus.Registry)
	m := &Metrics{reg: reg}
	if addr == "" {
		return m, nil
	}
	srv, err := metrics.Listen(metrics.Options{Addr: addr, Gatherer: g, Secret: secret, Logger: lg})
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	lg.Info("serving metrics", "addr", "http://"+srv.Addr()+"/metrics")
	m.srv = srv
	return m, nil
}

// Registerer is where the node registers its collectors: nil when nothing is served, so that
// event listeners that would feed histograms nobody reads are not installed.
func (m *Metrics) Registerer() prometheus.Registerer {
	if m.srv == nil || m.reg == nil {
		return nil
	}
	return m.reg
}

// MustRegister registers collectors when metrics are served, and drops them otherwise.
func (m *Metrics) MustRegister(cs ...prometheus.Collector) {
	if r := m.Registerer(); r != nil {
		r.MustRegister(cs...)
	}
}

// Addr is the address metrics are served on ("" for none).
func (m *Metrics) Addr() string {
	if m.srv == nil {
		return ""
	}
	return m.srv.Addr()
}

// Close stops the server.
func (m *Metrics) Close() error {
	if m.srv == nil {
		return nil
	}
	return m.srv.Close()
}

// DialMeta connects to the control plane with the password derived from the cluster secret
// (none when secret is empty); timeout 0 is the client's default.
func DialMeta(ctx context.Context, endpoints []string, secret string, lg *slog.Logger, timeout time.Duration) (*meta.Client, error) {
	opts := meta.ClientOptions{Endpoints: endpoints, Logger: lg, DialTimeout: timeout}
	if secret != "" {
		opts.Password = meta.PasswordFromSecret(secret)
	}
	return meta.Dial(ctx, opts)
}

// Publish registers a node with the control plane at endpoints and republishes status() every
// second until the returned stop is called. Without endpoints it does nothing: the node runs
// on its own. A control plane that does not answer is logged, not fatal.
func Publish(ctx context.Context, endpoints []string, secret string, lg *slog.Logger, status func() meta.Node) (stop func()) {
	if len(endpoints) == 0 {
		return func() {}
	}
	mc, err := DialMeta(ctx, endpoints, secret, lg, 0)
	if err != nil {
		lg.Warn("cannot reach the control plane; running without publishing status", "err", err)
		return func() {}
	}
	reg, err := mc.Register(ctx, status(), 5*time.Second)
	if err != nil {
		lg.Warn("cannot register with the control plane", "err", err)
		mc.Close()
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			uctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := reg.Update(uctx, status()); err != nil {
				lg.Debug("publish status", "err", err)
			}
			cancel()
		}
	}()
	return func() {
		close(done)
		<-finished
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = reg.Close(cctx)
		cancel()
		mc.Close()
	}
}
