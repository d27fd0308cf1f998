package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"strata/internal/meta"
)

// splitEndpoints splits a comma-separated list (of host:port endpoints, segments…), dropping
// empty entries.
func splitEndpoints(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// dialMeta connects to the control plane with the password derived from the cluster secret
// (none when secret is empty).
func dialMeta(ctx context.Context, endpoints []string, secret string, lg *slog.Logger, timeout time.Duration) (*meta.Client, error) {
	opts := meta.ClientOptions{Endpoints: endpoints, Logger: lg, DialTimeout: timeout}
	if secret != "" {
		opts.Password = meta.PasswordFromSecret(secret)
	}
	return meta.Dial(ctx, opts)
}

// publish registers a node with the control plane at endpoints and republishes status() every
// second until the returned stop is called. Without endpoints it does nothing: the node runs
// on its own. A control plane that does not answer is logged, not fatal.
func publish(ctx context.Context, endpoints []string, secret string, lg *slog.Logger, status func() meta.Node) (stop func()) {
	if len(endpoints) == 0 {
		return func() {}
	}
	mc, err := dialMeta(ctx, endpoints, secret, lg, 0)
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
