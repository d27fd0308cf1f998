package meta

import (
	"context"
	"testing"
	"time"
)

// TestChanges: a channel reports once its watches are in place; then a change to a watched
// record reaches it, a change elsewhere does not; a resync ticks without changes; and the
// channel closes when its context ends.
func TestChanges(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := dial(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sw, pending := c.SwitchoverChanges(ctx, 0), c.PendingChanges(ctx, 0)
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
	expect(sw, "switchover watch in place")
	expect(pending, "snapshots and branches watches in place")
	time.Sleep(200 * time.Millisecond)
	for range len(pending) { // the second of the two watches may report after the first
		<-pending
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
	resync := c.MainChanges(ctx, 50*time.Millisecond)
	expect(resync, "main watch in place")
	time.Sleep(100 * time.Millisecond)
	expect(resync, "a resync with no change")
	cancel()
	for _, ch := range []<-chan struct{}{sw, pending, resync} {
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
