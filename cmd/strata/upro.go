package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"strata/internal/meta"
	"strata/internal/supervisor"
)

// roNodes runs the read-only nodes recorded in the control plane as members (role ro): 'strata
// up' starts those it does not run yet and stops those no longer recorded.
type roNodes struct {
	sup    *supervisor.Supervisor
	mc     *meta.Client
	lg     *slog.Logger
	args   func(name, role string, port int) []string
	portOf func(name string) (int, error)
	addrs  map[string]string // running nodes' MySQL addresses
}

// sync starts and stops read-only nodes to match the members; it returns the running nodes'
// addresses by name.
func (r *roNodes) sync(ctx context.Context) (map[string]string, error) {
	if r.addrs == nil {
		r.addrs = map[string]string{}
	}
	members, err := r.mc.Members(ctx, meta.RoleRO)
	if err != nil {
		return r.addrs, err
	}
	want := map[string]bool{}
	var errs []string
	for _, m := range members {
		want[m.ID] = true
		if _, ok := r.addrs[m.ID]; ok {
			continue
		}
		addr, err := r.start(ctx, m.ID)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", m.ID, err))
			continue
		}
		r.addrs[m.ID] = addr
		r.lg.Info("strata: started a read-only node", "node", m.ID, "addr", addr)
	}
	for name := range r.addrs {
		if want[name] {
			continue
		}
		if _, err := r.sup.StopChild(name, 10*time.Second); err != nil {
			r.lg.Warn("strata: stop a removed read-only node", "node", name, "err", err)
		}
		delete(r.addrs, name)
		r.lg.Info("strata: stopped a removed read-only node", "node", name)
	}
	if len(errs) > 0 {
		return r.addrs, fmt.Errorf("cannot start read-only nodes: %s", strings.Join(errs, "; "))
	}
	return r.addrs, nil
}

// start runs read-only node name on the port it keeps across restarts.
func (r *roNodes) start(ctx context.Context, name string) (string, error) {
	port, err := r.portOf(name)
	if err != nil {
		return "", err
	}
	c := &supervisor.Child{Name: name, Ready: "strata: serving MySQL on ", Args: r.args(name, "ro", port)}
	if err := r.sup.Start(ctx, c); err != nil {
		return "", err
	}
	if err := r.mc.PutMember(ctx, meta.Member{Role: meta.RoleRO, ID: name, Addr: c.Addr()}); err != nil {
		return "", err
	}
	return c.Addr(), nil
}

// ensureMember records member id of role unless it is recorded.
func ensureMember(ctx context.Context, mc *meta.Client, role, id string) error {
	ms, err := mc.Members(ctx, role)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(ms, func(m meta.Member) bool { return m.ID == id }) {
		return nil
	}
	return mc.PutMember(ctx, meta.Member{Role: role, ID: id})
}

// listAddrs formats named addresses as ": name addr, …" ("" for none), sorted by name.
func listAddrs(addrs map[string]string) string {
	if len(addrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(addrs))
	for n := range addrs {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + addrs[n]
	}
	return ": " + strings.Join(parts, ", ")
}
