package pagestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// fakeLog is an in-memory storage.LogReader: a byte slice addressed by LSN (the first
// redo.StartLSN bytes are a header), of which the prefix below durable can be read.
type fakeLog struct {
	mu      sync.Mutex
	data    []byte
	durable page.LSN
	first   page.LSN      // reads below it fail: the log was truncated (0: none)
	changed chan struct{} // closed and replaced when durable moves
}

var _ storage.LogReader = (*fakeLog)(nil)

func newFakeLog() *fakeLog {
	return &fakeLog{data: make([]byte, redo.StartLSN), durable: redo.StartLSN, changed: make(chan struct{})}
}

func (l *fakeLog) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	for {
		l.mu.Lock()
		if from < redo.StartLSN || from < l.first || from > page.LSN(len(l.data)) {
			l.mu.Unlock()
			return nil, fmt.Errorf("fakelog: read at %d outside [%d, %d]", from, redo.StartLSN, len(l.data))
		}
		if from < l.durable {
			end := min(l.durable, from+page.LSN(max))
			b := bytes.Clone(l.data[from:end])
			l.mu.Unlock()
			return b, nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *fakeLog) Durable() page.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

// end returns the LSN after the last byte appended (durable or not).
func (l *fakeLog) end() page.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return page.LSN(len(l.data))
}

// appendPending appends bytes without making them durable.
func (l *fakeLog) appendPending(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.data = append(l.data, b...)
}

// setDurable makes the bytes below lsn durable.
func (l *fakeLog) setDurable(lsn page.LSN) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lsn > page.LSN(len(l.data)) {
		panic("fakelog: durable past the end")
	}
	l.durable = lsn
	close(l.changed)
	l.changed = make(chan struct{})
}

// makeDurable makes everything appended durable.
func (l *fakeLog) makeDurable() { l.setDurable(l.end()) }

// cut discards the log from lsn on (log recovery dropping a partial group).
func (l *fakeLog) cut(lsn page.LSN) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.data = l.data[:lsn]
	l.durable = min(l.durable, lsn)
}

// feed makes the pending bytes durable in random chunks (which split records), pausing now and
// then, until everything is durable or ctx ends.
func (l *fakeLog) feed(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		d, end := l.Durable(), l.end()
		if d >= end {
			return
		}
		l.setDurable(min(end, d+1+page.LSN(rng.IntN(4000))))
		if rng.IntN(8) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// version is a page as the read-write node had it after applying the record at lsn.
type version struct {
	lsn page.LSN
	pg  page.Page // sealed
}

// workload generates random groups into a fakeLog and keeps the "RW view": every page after
// every record, applied directly with redo.Apply.
type workload struct {
	t       testing.TB
	rng     *rand.Rand
	log     *fakeLog
	ids     []page.ID
	pages   map[page.ID]*page.Page
	hist    map[page.ID][]version
	ends    []page.LSN // LSN after each group
	recs    []page.LSN // LSN of each page record
	txn     uint64
	hotPage page.ID // when set, most records go to this page
}

func newWorkload(t testing.TB, seed uint64, log *fakeLog, npages int) *workload {
	w := &workload{
		t:     t,
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		log:   log,
		pages: make(map[page.ID]*page.Page),
		hist:  make(map[page.ID][]version),
	}
	for i := 1; i <= npages; i++ { // page 1 is the meta page
		w.ids = append(w.ids, page.ID(i))
	}
	return w
}

// allIDs returns the workload's pages and one page that never gets a record.
func (w *workload) allIDs() []page.ID { return append(append([]page.ID(nil), w.ids...), 999) }

func (w *workload) page(id page.ID) *page.Page {
	p := w.pages[id]
	if p == nil {
		p = new(page.Page)
		w.pages[id] = p
	}
	return p
}

func (w *workload) apply(r redo.Record, lsn page.LSN) {
	w.t.Helper()
	p := w.page(r.Page)
	if err := redo.Apply(p, lsn, r); err != nil {
		w.t.Fatalf("RW view: apply %s at %d: %v", r, lsn, err)
	}
	v := version{lsn: lsn, pg: *p}
	v.pg.Seal()
	w.hist[r.Page] = append(w.hist[r.Page], v)
	w.recs = append(w.recs, lsn)
}

// groups appends n random groups to the log (not yet durable).
func (w *workload) groups(n int) {
	for range n {
		w.group(func(g *redo.Group, start page.LSN) {
			for range 1 + w.rng.IntN(5) {
				off := page.LSN(g.Len())
				if r, ok := w.randomOp(g); ok {
					w.apply(r, start+off)
				}
			}
		})
	}
}

// group builds one group with fn, which applies each record to the RW view as it adds it,
// and appends it to the log (not yet durable).
func (w *workload) group(fn func(g *redo.Group, start page.LSN)) {
	g := redo.NewGroup()
	fn(g, w.log.end())
	if g.Empty() || w.rng.IntN(3) == 0 {
		w.txn++
		g.Commit(w.txn, time.Now().UnixMicro())
	}
	w.log.appendPending(g.Bytes())
	w.ends = append(w.ends, w.log.end())
}

func (w *workload) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(w.rng.Uint32())
	}
	return b
}

func (w *workload) randomOp(g *redo.Group) (redo.Record, bool) {
	rng := w.rng
	id := w.ids[rng.IntN(len(w.ids))]
	if w.hotPage != 0 && rng.IntN(4) != 0 {
		id = w.hotPage
	}
	p := w.page(id)
	randID := func() page.ID { return page.ID(rng.IntN(50)) }
	if id == page.MetaID {
		return g.Meta(page.Meta{Magic: page.MetaMagic, NextPage: randID() + 10, FreeHead: randID(),
			FreeCount: rng.Uint64N(100), CatalogRoot: randID()}), true
	}
	switch p.Type() {
	case page.TypeZero, page.TypeOverflow, page.TypeFree:
		switch rng.IntN(6) {
		case 0, 1, 2:
			t := page.TypeLeaf
			if rng.IntN(3) == 0 {
				t = page.TypeInternal
			}
			return g.Init(id, t, rng.IntN(3), randID()), true
		case 3:
			return g.Overflow(id, randID(), randID(), w.bytes(rng.IntN(5000))), true
		case 4:
			return g.Free(id, randID()), true
		default:
			if p.Type() == page.TypeZero {
				return redo.Record{}, false
			}
			return g.Next(id, randID()), true
		}
	}
	n := p.NumCells()
	switch r := rng.IntN(100); {
	case r < 45:
		cell := w.bytes(1 + rng.IntN(300))
		if !p.Fits(len(cell)) {
			if n == 0 {
				return redo.Record{}, false
			}
			return g.Delete(id, rng.IntN(n)), true
		}
		return g.Insert(id, rng.IntN(n+1), cell), true
	case r < 62:
		if n == 0 {
			return redo.Record{}, false
		}
		return g.Delete(id, rng.IntN(n)), true
	case r < 72:
		if n == 0 {
			return redo.Record{}, false
		}
		i := rng.IntN(n)
		cell := w.bytes(1 + rng.IntN(300))
		if len(cell)-len(p.Cell(i)) > p.FreeSpace() {
			return redo.Record{}, false
		}
		return g.Replace(id, i, cell), true
	case r < 76:
		return g.Truncate(id, n-rng.IntN(min(n, 3)+1)), true
	case r < 86:
		var cells [][]byte
		free := p.FreeSpace()
		for range 1 + rng.IntN(4) {
			c := w.bytes(1 + rng.IntN(200))
			if page.CellCost(len(c)) > free {
				break
			}
			free -= page.CellCost(len(c))
			cells = append(cells, c)
		}
		return g.Append(id, cells), true
	case r < 92:
		return g.Links(id, randID(), randID()), true
	case r < 97:
		return g.Next(id, randID()), true
	default:
		return g.Init(id, p.Type(), p.Level(), p.Owner()), true
	}
}

// expect returns page id as of lsn in the RW view (every record below lsn applied).
func (w *workload) expect(id page.ID, lsn page.LSN) (*page.Page, bool) {
	h := w.hist[id]
	i := sort.Search(len(h), func(i int) bool { return h[i].lsn >= lsn })
	if i == 0 {
		return nil, false
	}
	return &h[i-1].pg, true
}

// cut drops every record at or above lsn from the RW view.
func (w *workload) cut(lsn page.LSN) {
	for id, h := range w.hist {
		i := sort.Search(len(h), func(i int) bool { return h[i].lsn >= lsn })
		w.hist[id] = h[:i]
		if i == 0 {
			w.pages[id] = new(page.Page)
		} else {
			p := h[i-1].pg
			w.pages[id] = &p
		}
	}
	for len(w.ends) > 0 && w.ends[len(w.ends)-1] > lsn {
		w.ends = w.ends[:len(w.ends)-1]
	}
	for len(w.recs) > 0 && w.recs[len(w.recs)-1] >= lsn {
		w.recs = w.recs[:len(w.recs)-1]
	}
}

// lsns returns n positions to check: group ends, record boundaries and arbitrary bytes, all in
// [lo, hi], plus lo and hi.
func (w *workload) lsns(n int, lo, hi page.LSN) []page.LSN {
	out := []page.LSN{lo, hi}
	pick := func(s []page.LSN) page.LSN { return s[w.rng.IntN(len(s))] }
	for len(out) < n {
		var l page.LSN
		switch w.rng.IntN(4) {
		case 0:
			l = pick(w.ends)
		case 1:
			l = pick(w.recs)
		case 2:
			l = pick(w.recs) + 1
		default:
			l = lo + page.LSN(w.rng.Uint64N(uint64(hi-lo)+1))
		}
		if l >= lo && l <= hi {
			out = append(out, l)
		}
	}
	return out
}

// check compares GetPage with the RW view for every page at every lsn. With allowCompacted,
// ErrCompacted is accepted too.
func (w *workload) check(t testing.TB, s *Store, lsns []page.LSN, allowCompacted bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, lsn := range lsns {
		for _, id := range w.allIDs() {
			if err := w.checkOne(ctx, s, id, lsn); err != nil {
				if allowCompacted && errors.Is(err, ErrCompacted) {
					continue
				}
				t.Fatal(err)
			}
		}
	}
}

func (w *workload) checkOne(ctx context.Context, s *Store, id page.ID, lsn page.LSN) error {
	var got page.Page
	err := s.GetPage(ctx, id, lsn, &got)
	if errors.Is(err, ErrCompacted) {
		return fmt.Errorf("GetPage(%d, %d): %w", id, lsn, err)
	}
	want, ok := w.expect(id, lsn)
	if !ok {
		if !errors.Is(err, storage.ErrPageNotFound) {
			return fmt.Errorf("GetPage(%d, %d) = %v, want ErrPageNotFound", id, lsn, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("GetPage(%d, %d): %w", id, lsn, err)
	}
	if got != *want {
		i := 0
		for got[i] == want[i] {
			i++
		}
		return fmt.Errorf("GetPage(%d, %d): page differs from the RW view at byte %d (lsn %d vs %d, checksum %08x vs %08x)",
			id, lsn, i, got.LSN(), want.LSN(), got.StoredChecksum(), want.StoredChecksum())
	}
	if got.Checksum() != want.Checksum() || got.Verify() != nil {
		return fmt.Errorf("GetPage(%d, %d): bad seal", id, lsn)
	}
	return nil
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// openStore opens a store in "ps" on fs, closed at the end of the test.
func openStore(t testing.TB, fs vfs.FS, log storage.LogReader, mod func(*Options)) *Store {
	t.Helper()
	opts := Options{FS: fs, Dir: "ps", Log: log, Logger: discard, CompactInterval: -1, FlushInterval: 20 * time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitPersisted(t testing.TB, s *Store, lsn page.LSN) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("persisted %d", lsn), func() bool { return s.Persisted() >= lsn })
}

// countKeys counts the store's keys of kind for page id (kind 0: both kinds).
func countKeys(t testing.TB, s *Store, id page.ID, kind byte) int {
	t.Helper()
	n := 0
	for _, k := range []byte{kindDelta, kindImage} {
		if kind != 0 && k != kind {
			continue
		}
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: versionKey(k, id, 0), UpperBound: pageUpper(k, id)})
		if err != nil {
			t.Fatal(err)
		}
		for valid := it.First(); valid; valid = it.Next() {
			n++
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// versionsAtOrAbove counts the store's deltas and images at or above lsn.
func versionsAtOrAbove(t testing.TB, s *Store, lsn page.LSN) int {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindDelta}, UpperBound: []byte{kindImage + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if k := it.Key(); len(k) == versionKeyLen {
			if _, _, at, err := parseVersionKey(k); err == nil && at >= lsn {
				n++
			}
		}
	}
	return n
}

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
