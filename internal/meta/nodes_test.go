package meta

import (
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
