package meta

import (
	"context"
	"testing"
	"time"
)

// TestChanges: a change to a watched record reaches its channel, a change elsewhere does not,
// and the channel closes when its context ends.
func TestChanges(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := dial(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sw, pending := c.SwitchoverChanges(ctx), c.PendingChanges(ctx)
	time.Sleep(200 * time.Millisecond) // the watches are open
	expect := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("%s: channel closed", what)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no change reported in 5 s", what)
		}
	}
	quiet := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
			t.Fatalf("%s: a change reported with none made", what)
		case <-time.After(300 * time.Millisecond):
		}
	}
	quiet(sw, "switchover")
	if err := c.RequestSwitchover(ctx, Switchover{Epoch: 3}); err != nil {
		t.Fatal(err)
	}
	expect(sw, "switchover")
	quiet(pending, "snapshots and branches, after a switchover")
	if err := c.CreateSnapshot(ctx, Snapshot{Name: "s1", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	expect(pending, "a new snapshot")
	quiet(sw, "switchover, after a snapshot")
	cancel()
	for _, ch := range []<-chan struct{}{sw, pending} {
		deadline := time.After(5 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					break drain
				}
			case <-deadline:
				t.Fatal("channel still open 5 s after its context ended")
			}
		}
	}
}
