package logstore

import (
	"errors"
	"testing"

	"strata/internal/page"
	"strata/internal/quorum"
)

func newCore(promised uint64, h []quorum.Term, end page.LSN) core {
	return core{promised: promised, history: h, start: 64, first: 64, end: end, durable: end}
}

func TestCoreAppendChecks(t *testing.T) {
	h := []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 3, Start: 500}}
	for _, tc := range []struct {
		name   string
		epoch  uint64
		start  page.LSN
		reason error
	}{
		{"ok", 3, 800, nil},
		{"stale epoch", 2, 800, ErrStaleEpoch},
		{"older epoch that wrote the log", 1, 800, ErrStaleEpoch},
		{"newer epoch not adopted", 4, 800, ErrNotAdopted},
		{"gap", 3, 900, ErrGap},
		{"overlap", 3, 700, ErrGap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(3, h, 800)
			err := c.checkAppend(tc.epoch, tc.start, 10)
			if !errors.Is(err, tc.reason) || (tc.reason == nil) != (err == nil) {
				t.Fatalf("checkAppend: %v, want %v", err, tc.reason)
			}
			var r *RefusedError
			if err != nil && (!errors.As(err, &r) || r.End != 800 || r.Promised != 3) {
				t.Fatalf("refusal %#v lacks the store's end or epoch", err)
			}
		})
	}
}

func TestCoreSealedNotAdopted(t *testing.T) {
	c := newCore(1, []quorum.Term{{Epoch: 1, Start: 64}}, 100)
	if changed, err := c.seal(2, false); err != nil || !changed {
		t.Fatal(changed, err)
	}
	if changed, err := c.seal(2, false); err != nil || changed {
		t.Fatal("resealing the same epoch", changed, err)
	}
	if _, err := c.seal(1, false); !errors.Is(err, ErrStaleEpoch) {
		t.Fatal(err)
	}
	if _, err := c.seal(2, true); !errors.Is(err, ErrStaleEpoch) {
		t.Fatal("a new writer's seal with the epoch already promised:", err)
	}
	// The old writer is refused; the new one must adopt first.
	if err := c.checkAppend(1, 100, 1); !errors.Is(err, ErrStaleEpoch) {
		t.Fatal(err)
	}
	if err := c.checkAppend(2, 100, 1); !errors.Is(err, ErrNotAdopted) {
		t.Fatal(err)
	}
}

func TestCoreAdopt(t *testing.T) {
	store := []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 2, Start: 1000}}
	for _, tc := range []struct {
		name  string
		epoch uint64
		at    page.LSN
		h     []quorum.Term
		ok    bool
	}{
		{"cut in epoch 1", 3, 900, []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 3, Start: 1100}}, true},
		{"at the end", 3, 1200, []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 2, Start: 1000}, {Epoch: 3, Start: 1200}}, true},
		{"histories disagree below at", 3, 1100, []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 3, Start: 1100}}, false},
		{"beyond the end", 3, 1300, []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 2, Start: 1000}, {Epoch: 3, Start: 1300}}, false},
		{"history not ending with the epoch", 3, 900, []quorum.Term{{Epoch: 1, Start: 64}}, false},
		{"stale", 1, 900, []quorum.Term{{Epoch: 1, Start: 64}}, false},
		{"bad history", 3, 900, []quorum.Term{{Epoch: 3, Start: 64}, {Epoch: 1, Start: 100}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(2, store, 1200)
			err := c.checkAdopt(tc.epoch, tc.at, tc.h)
			if (err == nil) != tc.ok {
				t.Fatalf("checkAdopt: %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				return
			}
			c.adopt(tc.epoch, tc.at, tc.h, tc.at, 0)
			if c.end != tc.at || c.promised != tc.epoch || !c.adoptedBy(tc.epoch) {
				t.Fatalf("after adopt: %+v", c)
			}
			if err := c.checkAppend(tc.epoch, tc.at, 1); err != nil {
				t.Fatal(err)
			}
			if err := c.checkAppend(2, tc.at, 1); !errors.Is(err, ErrStaleEpoch) {
				t.Fatal(err)
			}
		})
	}
}

func TestCoreReadable(t *testing.T) {
	c := newCore(1, []quorum.Term{{Epoch: 1, Start: 64}}, 500)
	c.accept(100, 0)
	c.commit(300)
	if got := c.readable(0); got != 300 {
		t.Fatalf("followers read up to the committed LSN: %d", got)
	}
	if got := c.readable(1000); got != 500 {
		t.Fatalf("a reader with its own limit reads synced bytes: %d", got)
	}
	c.synced(600)
	if c.durable != 600 {
		t.Fatal(c.durable)
	}
}
