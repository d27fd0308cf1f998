package logstore

import (
	"errors"
	"slices"
	"testing"

	"strata/internal/logapi"
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

func TestCoreDamage(t *testing.T) {
	h := []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 3, Start: 500}}
	c := newCore(3, h, 1000)
	if !c.markDamaged(logapi.Span{Lo: 200, Hi: 300}) || c.markDamaged(logapi.Span{Lo: 220, Hi: 260}) || !c.markDamaged(logapi.Span{Lo: 900, Hi: 2000}) {
		t.Fatal("markDamaged: wrong news")
	}
	if want := []logapi.Span{{Lo: 200, Hi: 300}, {Lo: 900, Hi: 1000}}; !slices.Equal(c.damaged, want) {
		t.Fatalf("damaged %v, want %v (clipped to the durable end)", c.damaged, want)
	}
	if r, bad := c.servable(100, 1000); r != 200 || bad != nil {
		t.Fatalf("servable from 100: %d %v", r, bad)
	}
	if _, bad := c.servable(250, 1000); bad == nil || *bad != (logapi.Span{Lo: 200, Hi: 300}) {
		t.Fatalf("servable from 250: %v", bad)
	}
	sp := logapi.Span{Lo: 200, Hi: 300}
	for _, tc := range []struct {
		name string
		peer logapi.Status
		ok   bool
	}{
		{"same log", logapi.Status{History: h, First: 64, Durable: 1000}, true},
		{"same epochs below the span, shorter", logapi.Status{History: h[:1], First: 64, Durable: 300}, true},
		{"does not hold all of it", logapi.Status{History: h, First: 64, Durable: 280}, false},
		{"truncated", logapi.Status{History: h, First: 250, Durable: 1000}, false},
		{"another epoch wrote it", logapi.Status{History: []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 2, Start: 150}}, First: 64, Durable: 1000}, false},
	} {
		e, err := c.checkRepairSource(sp, tc.peer)
		if (err == nil) != tc.ok || (tc.ok && e != 1) {
			t.Errorf("%s: epoch %d, %v", tc.name, e, err)
		}
	}
	if _, err := c.checkRepairSource(logapi.Span{Lo: 210, Hi: 300}, logapi.Status{History: h, First: 64, Durable: 1000}); err == nil {
		t.Error("a span that is not damaged may be repaired")
	}
	c.repaired(sp)
	c.durable, c.end = 950, 950 // a new writer cut the log
	c.clipDamaged()
	if want := []logapi.Span{{Lo: 900, Hi: 950}}; !slices.Equal(c.damaged, want) {
		t.Fatalf("after repair and cut: %v", c.damaged)
	}
	c.groupUnsure = true
	if _, err := c.seal(4, true); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("strict seal while the last group end is unknown: %v", err)
	}
}

func TestCoreStartAt(t *testing.T) {
	writer := []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 3, Start: 5000}, {Epoch: 4, Start: 9000}}
	for _, tc := range []struct {
		name      string
		promised  uint64
		first     page.LSN
		durable   page.LSN
		epoch     uint64
		at        page.LSN
		h         []quorum.Term
		committed page.LSN
		reason    error // a refusal, or nil
		ok        bool
	}{
		{"empty store", 0, 64, 64, 4, 6000, writer, 9500, nil, true},
		{"log wholly below", 3, 64, 2000, 4, 6000, writer, 9500, nil, true},
		{"log ends at the new start", 3, 1000, 6000, 4, 6000, writer, 9500, nil, true},
		{"store holds bytes at the new start", 3, 1000, 6001, 4, 6000, writer, 9500, nil, false},
		{"store holds bytes beyond it", 3, 5500, 7000, 4, 6000, writer, 9500, nil, false},
		{"beyond the writer's committed LSN", 0, 64, 64, 4, 6000, writer, 5999, nil, false},
		{"stale epoch", 5, 64, 64, 4, 6000, writer, 9500, ErrStaleEpoch, false},
		{"history not ending with the epoch", 0, 64, 64, 4, 6000, writer[:2], 9500, nil, false},
		{"history without the new start", 0, 64, 64, 4, 6000, []quorum.Term{{Epoch: 4, Start: 7000}}, 9500, nil, false},
		{"bad history", 0, 64, 64, 4, 6000, []quorum.Term{{Epoch: 4, Start: 64}, {Epoch: 4, Start: 100}}, 9500, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := core{promised: tc.promised, history: []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 2, Start: 1000}},
				start: 64, first: tc.first, end: tc.durable, durable: tc.durable, committed: 1500}
			if tc.durable == 64 {
				c.history = nil
			}
			c.markDamaged(logapi.Span{Lo: tc.first, Hi: tc.durable})
			err := c.checkStartAt(tc.epoch, tc.at, tc.h, tc.committed)
			if (err == nil) != tc.ok || (tc.reason != nil && !errors.Is(err, tc.reason)) {
				t.Fatalf("checkStartAt: %v, want ok=%v (%v)", err, tc.ok, tc.reason)
			}
			if err != nil {
				return
			}
			c.startAt(tc.epoch, tc.at, tc.h, tc.committed)
			st := c.status()
			if st.FillTo != tc.committed {
				t.Fatalf("fill target %d, want the writer's committed LSN %d", st.FillTo, tc.committed)
			}
			if st.Start != tc.at || st.First != tc.at || st.End != tc.at || st.Durable != tc.at || st.CompleteEnd != tc.at ||
				st.Committed != tc.at || st.Promised != tc.epoch || len(st.Damaged) != 0 {
				t.Fatalf("after startAt: %+v", st)
			}
			// The history describes the bytes from at on only, with the writer's epochs.
			if want := []quorum.Term{{Epoch: 3, Start: 6000}, {Epoch: 4, Start: 9000}}; !slices.Equal(st.History, want) {
				t.Fatalf("history %v, want %v", st.History, want)
			}
			if err := c.checkAppend(tc.epoch, tc.at, 10); err != nil {
				t.Fatalf("append at the new start: %v", err)
			}
			c.accept(100, 0)
			c.synced(tc.at + 100)
			if c.fillTo != tc.committed {
				t.Fatal("filled before reaching the target")
			}
			c.accept(int(tc.committed-tc.at), 0)
			c.synced(tc.committed + 100)
			if c.fillTo != 0 {
				t.Fatal("still filling after reaching the target")
			}
			c.end, c.durable = tc.at+100, tc.at+100
			// The writer (or a later one) can reconcile the restarted log: its histories agree
			// with the store's from the start on, at the start itself included.
			if err := c.checkAdopt(tc.epoch, tc.at+100, writer); err != nil {
				t.Fatalf("adopt after the restart: %v", err)
			}
			if err := c.checkAdopt(tc.epoch, tc.at, writer); err != nil {
				t.Fatalf("adopt at the new start: %v", err)
			}
			if err := c.checkAdopt(tc.epoch, tc.at-1, writer); err == nil {
				t.Fatal("adopt below the new start accepted")
			}
			later := quorum.Cut(writer, tc.at+50, 7)
			if err := c.checkAdopt(7, tc.at+50, later); err != nil {
				t.Fatalf("a new writer's cut: %v", err)
			}
			c.adopt(7, tc.at+50, later, tc.at, 0)
			if want := []quorum.Term{{Epoch: 3, Start: 6000}, {Epoch: 7, Start: tc.at + 50}}; !slices.Equal(c.history, want) {
				t.Fatalf("history after a later adopt %v, want %v", c.history, want)
			}
			// A second restart needs a log wholly below its LSN again.
			if err := c.checkStartAt(7, tc.at+10, later, 20000); err == nil {
				t.Fatal("restart below the store's end accepted")
			}
		})
	}
}
