package meta

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"strata/internal/placement"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startServer(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := StartServer(context.Background(), ServerOptions{Dir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dial(t *testing.T, s *Server) *Client {
	t.Helper()
	c, err := Dial(context.Background(), ClientOptions{Endpoints: s.Endpoints(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestEpochAndPlacementSurviveRestart: the epoch counter and the placement are kept in etcd's
// data directory across a restart of the embedded server.
func TestEpochAndPlacementSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := startServer(t, dir)
	c := dial(t, s)
	for want := uint64(1); want <= 3; want++ {
		e, err := c.BumpEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if e != want {
			t.Fatalf("epoch %d, want %d", e, want)
		}
	}
	p := placement.Placement{SegmentPages: 1024, Segments: map[uint64][]string{0: {"ps1", "ps2", "ps3"}, 1: {"ps2", "ps3", "ps1"}}}
	if err := c.SetPlacement(ctx, p); err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()

	s = startServer(t, dir)
	defer s.Close()
	c = dial(t, s)
	if e, err := c.Epoch(ctx); err != nil || e != 3 {
		t.Fatalf("epoch after restart %d, %v; want 3", e, err)
	}
	got, ok, err := c.Placement(ctx)
	if err != nil || !ok {
		t.Fatalf("placement after restart: %v %v", ok, err)
	}
	if got.SegmentPages != 1024 || len(got.Segments) != 2 || got.Segments[1][0] != "ps2" {
		t.Fatalf("placement after restart: %+v", got)
	}
}

// TestBumpEpochConcurrent: concurrent bumps each get a distinct epoch.
func TestBumpEpochConcurrent(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, t.TempDir())
	defer s.Close()
	c := dial(t, s)
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				e, err := c.BumpEpoch(ctx)
				if err == ErrEpochRace {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[e] {
					t.Errorf("epoch %d handed out twice", e)
				}
				seen[e] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	final, err := c.Epoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(final) != len(seen) {
		t.Fatalf("final epoch %d, but %d bumps succeeded", final, len(seen))
	}
}

// TestNodesLiveAndDown: a registered node is up with what it publishes; after it closes its
// registration (or dies: its lease expires) a member is listed as down; nodes sort by role.
func TestNodesLiveAndDown(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, t.TempDir())
	defer s.Close()
	c := dial(t, s)
	for _, m := range []Member{{RoleRW, "rw", "127.0.0.1:1"}, {RoleLogStore, "ls1", "127.0.0.1:2"}, {RoleLogStore, "ls2", "127.0.0.1:3"}} {
		if err := c.PutMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PutMember(ctx, Member{Role: "log/store", ID: "x"}); err == nil {
		t.Fatal("a role with a slash was accepted")
	}
	reg, err := c.Register(ctx, Node{Role: RoleLogStore, ID: "ls1", Addr: "127.0.0.1:2", PID: 42}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Update(ctx, Node{Addr: "127.0.0.1:2", PID: 42, Durable: 1000}); err != nil {
		t.Fatal(err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 || nodes[0].ID != "ls1" || nodes[1].ID != "ls2" || nodes[2].Role != RoleRW {
		t.Fatalf("nodes %+v", nodes)
	}
	if nodes[0].State != StateUp || nodes[0].PID != 42 || nodes[0].Durable != 1000 || nodes[1].State != StateDown {
		t.Fatalf("nodes %+v", nodes)
	}
	// The lease outlives a second of keep-alives.
	time.Sleep(1500 * time.Millisecond)
	if nodes, _ = c.Nodes(ctx); nodes[0].State != StateUp {
		t.Fatalf("registration lapsed while alive: %+v", nodes[0])
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if nodes, _ = c.Nodes(ctx); nodes[0].State != StateDown || nodes[0].Addr != "127.0.0.1:2" {
		t.Fatalf("after close: %+v", nodes[0])
	}
}
