package meta

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestNodeIsDown(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		n    Node
		down bool
	}{
		{Node{State: StateUp, Updated: now.Add(-time.Second)}, false},
		{Node{State: StateFailing, Updated: now.Add(-time.Second)}, false},
		{Node{State: StateUp, Updated: now.Add(-HeartbeatTimeout - time.Millisecond)}, true},
		{Node{State: StateDown}, true},                               // a member without a live key
		{Node{State: StateUp}, false},                                // no heartbeat time: the state decides
		{Node{State: StateUp, Updated: now.Add(time.Second)}, false}, // a clock slightly ahead
	} {
		if got := c.n.IsDown(now); got != c.down {
			t.Errorf("%+v: IsDown = %v, want %v", c.n, got, c.down)
		}
	}
}

// A member that runs under the other compute role (after a failover) is listed once, as it
// runs.
func TestNodesAfterRoleChange(t *testing.T) {
	c := dial(t, startServer(t, t.TempDir()))
	ctx := context.Background()
	for _, m := range []Member{{Role: RoleRW, ID: "rw"}, {Role: RoleRO, ID: "ro-1"}, {Role: RoleRO, ID: "ro-2"}} {
		if err := c.PutMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []Node{{Role: RoleRW, ID: "ro-1", PID: 1, Epoch: 2}, {Role: RoleRO, ID: "rw", PID: 2}} {
		r, err := c.Register(ctx, n, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close(context.Background()) })
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, n.Role+"/"+n.ID+"/"+n.State)
	}
	want := "rw/ro-1/up ro/ro-2/down ro/rw/up"
	if strings.Join(got, " ") != want {
		t.Fatalf("nodes %q, want %q", strings.Join(got, " "), want)
	}
}
