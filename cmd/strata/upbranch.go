package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"strata/internal/meta"
	"strata/internal/supervisor"
)

// branchNodes runs a writer for every branch whose point is fixed (docs/history.md), but for
// a restore in the making and a retired branch: 'strata up' starts those it does not run yet,
// each on a port of its own kept across restarts, and stops those of deleted branches.
type branchNodes struct {
	sup    *supervisor.Supervisor
	mc     *meta.Client
	lg     *slog.Logger
	args   func(name, role string, port int) []string
	portOf func(name string) (int, error)
	addrs  map[string]string // running branches' MySQL addresses, by branch name
}

// childName is the supervised process of branch name.
func branchChild(name string) string { return "branch-" + name }

// sync starts and stops branch writers to match the branches.
func (r *branchNodes) sync(ctx context.Context) error {
	if r.addrs == nil {
		r.addrs = map[string]string{}
	}
	branches, err := r.mc.Branches(ctx)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	var errs []string
	for _, b := range branches {
		if !b.Serves() {
			continue // pending, void, a restore in the making, or retired
		}
		want[b.Name] = true
		if _, ok := r.addrs[b.Name]; ok {
			continue
		}
		port, err := r.portOf(branchChild(b.Name))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", b.Name, err))
			continue
		}
		c := &supervisor.Child{Name: branchChild(b.Name), Ready: "strata: serving MySQL on ",
			Args: append(r.args(branchChild(b.Name), "rw", port), "--branch", b.Name)}
		if err := r.sup.Start(ctx, c); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", b.Name, err))
			continue
		}
		if err := r.mc.PutMember(ctx, meta.Member{Role: meta.RoleBranch, ID: b.Name, Addr: c.Addr()}); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", b.Name, err))
		}
		r.addrs[b.Name] = c.Addr()
		r.lg.Info("strata: started a branch's writer", "branch", b.Name, "addr", c.Addr())
	}
	for name := range r.addrs {
		if want[name] {
			continue
		}
		if _, err := r.sup.StopChild(branchChild(name), 10*time.Second); err != nil {
			r.lg.Warn("strata: stop a deleted branch's writer", "branch", name, "err", err)
		}
		if err := r.mc.DeleteMember(ctx, meta.RoleBranch, name); err != nil {
			r.lg.Warn("strata: forget a deleted branch's writer", "branch", name, "err", err)
		}
		delete(r.addrs, name)
		r.lg.Info("strata: stopped a deleted branch's writer", "branch", name)
	}
	if len(errs) > 0 {
		return fmt.Errorf("cannot start branch writers: %s", strings.Join(errs, "; "))
	}
	return nil
}
