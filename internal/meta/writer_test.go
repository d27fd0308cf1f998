package meta

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// Of several nodes that saw the same epoch, exactly one takes the next.
func TestClaimEpochOneWinner(t *testing.T) {
	c := dial(t, startServer(t, t.TempDir()))
	ctx := context.Background()
	if _, err := c.Writer(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Writer before any claim: %v", err)
	}
	for round, seen := range []uint64{0, 1} {
		var mu sync.Mutex
		var wins []string
		var wg sync.WaitGroup
		for _, id := range []string{"a", "b", "c", "d"} {
			wg.Go(func() {
				e, err := c.ClaimEpoch(ctx, seen, id)
				if err == nil {
					if e != seen+1 {
						t.Errorf("claim from %d gave %d", seen, e)
					}
					mu.Lock()
					wins = append(wins, id)
					mu.Unlock()
				} else if !errors.Is(err, ErrEpochRace) {
					t.Errorf("claim: %v", err)
				}
			})
		}
		wg.Wait()
		if len(wins) != 1 {
			t.Fatalf("round %d: winners %v", round, wins)
		}
		w, err := c.Writer(ctx)
		if err != nil || w.ID != wins[0] || w.Epoch != seen+1 {
			t.Fatalf("round %d: writer %+v, %v; want %s at %d", round, w, err, wins[0], seen+1)
		}
		if e, _ := c.Epoch(ctx); e != seen+1 {
			t.Fatalf("epoch %d, want %d", e, seen+1)
		}
	}
	// A claim from a stale epoch fails.
	if _, err := c.ClaimEpoch(ctx, 1, "late"); !errors.Is(err, ErrEpochRace) {
		t.Fatalf("stale claim: %v", err)
	}
	if err := c.RequestSwitchover(ctx, Switchover{Epoch: 2, Target: "b"}); err != nil {
		t.Fatal(err)
	}
	if s, err := c.PendingSwitchover(ctx); err != nil || s.Epoch != 2 || s.Target != "b" {
		t.Fatalf("switchover %+v, %v", s, err)
	}
}
