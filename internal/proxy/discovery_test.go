package proxy

import (
	"context"
	"testing"
	"time"

	"strata/internal/meta"
)

// TestTopologyOf: the RW is the rw node that is up (the highest epoch if several), the ROs
// the ro nodes that are up; down, stale, starting and addressless nodes are skipped.
func TestTopologyOf(t *testing.T) {
	now := time.Now()
	top := topologyOf([]meta.Node{
		{Role: meta.RoleRW, ID: "old", Addr: "a:1", State: meta.StateUp, Epoch: 3, Updated: now},
		{Role: meta.RoleRW, ID: "new", Addr: "a:2", State: meta.StateUp, Epoch: 4, Updated: now},
		{Role: meta.RoleRW, ID: "dead", Addr: "a:3", State: meta.StateDown, Epoch: 9},
		{Role: meta.RoleRO, ID: "r1", Addr: "b:1", State: meta.StateUp, Applied: 77, Updated: now},
		{Role: meta.RoleRO, ID: "r2", Addr: "b:2", State: meta.StateStarting, Updated: now},
		{Role: meta.RoleRO, ID: "r3", Addr: "b:3", State: meta.StateUp, Updated: now.Add(-time.Minute)},
		{Role: meta.RoleRO, ID: "r4", State: meta.StateUp, Updated: now},
		{Role: meta.RoleLogStore, ID: "l", Addr: "c:1", State: meta.StateUp, Updated: now},
	}, now)
	if top.RW == nil || top.RW.ID != "new" || len(top.ROs) != 1 || top.ROs[0].ID != "r1" || top.ROs[0].Applied != 77 {
		t.Fatalf("topology %+v %+v", top.RW, top.ROs)
	}
}

// TestMetaDiscovery: a proxy finds the RW through the control plane, and follows it when
// it goes away.
func TestMetaDiscovery(t *testing.T) {
	ctx := context.Background()
	ms, err := meta.StartServer(ctx, meta.ServerOptions{Dir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ms.Close)
	mc, err := meta.Dial(ctx, meta.ClientOptions{Endpoints: ms.Endpoints(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Close() })
	rw := startRW(t, t.TempDir())
	reg, err := mc.Register(ctx, meta.Node{Role: meta.RoleRW, ID: "rw", Addr: rw.addr, State: meta.StateUp, Epoch: 1, Updated: time.Now()}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, MetaDiscovery{Client: mc}, func(o *Options) { o.BackendWait = 500 * time.Millisecond })
	c := open(t, p.Addr().String(), "root", "", "")
	mustExec(t, c, "CREATE DATABASE d")
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Topology().RW != nil {
		if time.Now().After(deadline) {
			t.Fatal("the proxy still routes to an RW that left the control plane")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := open(t, p.Addr().String(), "root", "", "").PingContext(ctx); errCode(err) != 2003 {
		t.Fatalf("a login with no RW registered: %v", err)
	}
}
