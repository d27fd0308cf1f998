package replay

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"strata/internal/page"
)

// recSize is the encoded size of every record in the tests' streams.
const recSize = 16

// logModel is the whole redo log as the read-write node wrote it, including what the RO never
// reads (below a truncation) and records an abort voided. It is the Page Stores' view.
type logModel struct {
	recs      []Rec
	void      map[page.LSN]bool // records voided by an abort
	groupEnds map[page.LSN]bool // positions at group ends (where a view may be)
	end       page.LSN          // where the next record goes
	groupFrom page.LSN          // where the open group starts
}

func newLog(start page.LSN) *logModel {
	return &logModel{void: map[page.LSN]bool{}, groupEnds: map[page.LSN]bool{start: true}, end: start, groupFrom: start}
}

// add appends a record of pg (page.Invalid for none) and returns it.
func (l *logModel) add(pg page.ID, groupEnd bool) Rec {
	r := Rec{LSN: l.end, Next: l.end + recSize, Page: pg, GroupEnd: groupEnd}
	l.recs = append(l.recs, r)
	l.end = r.Next
	if groupEnd {
		l.groupEnds[r.Next] = true
		l.groupFrom = r.Next
	}
	return r
}

// abort appends an abort record voiding the open group and returns it with the group start.
func (l *logModel) abort() (Rec, page.LSN) {
	from := l.groupFrom
	for _, r := range l.recs {
		if r.LSN >= from {
			l.void[r.LSN] = true
		}
	}
	return l.add(page.Invalid, true), from
}

// page returns the LSNs of pg's live records in [from, to): the records a Page Store applies
// to the page between those positions (GetPage at an LSN applies the records below it).
func (l *logModel) page(pg page.ID, from, to page.LSN) []page.LSN {
	var out []page.LSN
	for _, r := range l.recs {
		if r.Page == pg && r.LSN >= from && r.LSN < to && !l.void[r.LSN] {
			out = append(out, r.LSN)
		}
	}
	return out
}

// edge simulates the RO node's edge around a Machine: a buffer pool whose pages are the lists
// of records applied to them, the bytes kept for the open group and held for fetches, and a
// Page Store that serves the log model. It carries out the Machine's decisions literally and
// records every misuse it sees; checkInvariants compares the result with the log model.
type edge struct {
	m        *Machine
	log      *logModel
	pool     map[page.ID][]page.LSN // cached pages: records applied, in order
	kept     map[page.LSN]Rec       // bytes kept for the open group
	held     map[Token][]page.LSN   // bytes held for each fetch
	lastView page.LSN
	oldest   page.LSN
	errs     []string // misuses seen while carrying out decisions
	neon     bool     // the Machine has Neon's bug: violations are expected
}

func newEdge(start page.LSN, neon bool) *edge {
	m := New(start)
	m.skipFetching = neon
	return &edge{m: m, log: newLog(start), pool: map[page.ID][]page.LSN{}, kept: map[page.LSN]Rec{},
		held: map[Token][]page.LSN{}, lastView: start, oldest: start, neon: neon}
}

func (e *edge) failf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// record writes a record to the log and feeds it to the Machine, carrying out the decision.
func (e *edge) record(pg page.ID, groupEnd bool) (Rec, Decision, error) {
	r := e.log.add(pg, groupEnd)
	d, err := e.m.Record(r)
	if err == nil {
		e.carry(r, d)
	}
	return r, d, err
}

// abort writes an abort record voiding the open group and feeds it to the Machine.
func (e *edge) abort() (Rec, Decision, error) {
	r, from := e.log.abort()
	d, err := e.m.Abort(r, from)
	if err == nil {
		e.carry(r, d)
	}
	return r, d, err
}

func (e *edge) carry(r Rec, d Decision) {
	if d.Action == Keep {
		e.kept[r.LSN] = r
	}
	if !d.Publish {
		return
	}
	for _, s := range d.Steps {
		if _, ok := e.kept[s.LSN]; !ok {
			e.failf("step %v for lsn %d, whose bytes were not kept", s.Action, s.LSN)
			continue
		}
		delete(e.kept, s.LSN)
		switch s.Action {
		case Apply:
			e.apply(s.Page, s.LSN)
		case Hold:
			e.held[s.Fetch] = append(e.held[s.Fetch], s.LSN)
		}
	}
	if len(e.kept) > 0 {
		e.failf("kept bytes of lsns %v not decided at the group end", slices.Sorted(maps.Keys(e.kept)))
		clear(e.kept)
	}
}

// apply applies record lsn to cached page pg, as redo.Apply would to the latched frame.
func (e *edge) apply(pg page.ID, lsn page.LSN) {
	p, ok := e.pool[pg]
	if !ok {
		e.failf("apply of lsn %d to page %d, which the pool does not hold", lsn, pg)
		return
	}
	if n := len(p); n > 0 && p[n-1] >= lsn {
		e.failf("apply of lsn %d to page %d at lsn %d: applied twice or out of order", lsn, pg, p[n-1])
		return
	}
	e.pool[pg] = append(p, lsn)
}

// fetchDone reads the fetch's page from the Page Store at its read LSN, tells the Machine,
// and applies the held records; it returns the page as built and the outcome.
func (e *edge) fetchDone(tok Token) ([]page.LSN, Done, error) {
	f := e.m.byToken[tok]
	var pg []page.LSN
	var pageLSN page.LSN
	if f != nil {
		pg = e.log.page(f.page, 0, f.readLSN)
		if len(pg) > 0 {
			pageLSN = pg[len(pg)-1]
		}
	}
	d, err := e.m.FetchDone(tok, pageLSN)
	if err != nil {
		return nil, d, err
	}
	held := e.held[tok]
	delete(e.held, tok)
	if d.Outcome == Retry {
		return nil, d, nil
	}
	for _, lsn := range d.Held {
		if !slices.Contains(held, lsn) {
			e.failf("fetch %d: lsn %d to apply was never held", tok, lsn)
		}
		if n := len(pg); n > 0 && pg[n-1] >= lsn {
			e.failf("fetch %d: held lsn %d applied to a page at lsn %d", tok, lsn, pg[n-1])
			continue
		}
		pg = append(pg, lsn)
	}
	if want := e.log.page(f.page, 0, e.m.view); !slices.Equal(pg, want) {
		e.failf("fetch %d of page %d (%v): the page has %v, the log up to the view %d has %v",
			tok, f.page, d.Outcome, pg, e.m.view, want)
	}
	if d.Outcome == Install {
		e.pool[f.page] = pg
	}
	return pg, d, nil
}

func (e *edge) fetchFailed(tok Token) error {
	delete(e.held, tok)
	return e.m.FetchFailed(tok)
}

func (e *edge) evict(pg page.ID) error {
	if err := e.m.Evict(pg); err != nil {
		return err
	}
	delete(e.pool, pg)
	return nil
}

// truncate writes groups the RO never reads (the Log Stores truncated them away) and
// re-syncs the Machine at the log's end.
func (e *edge) truncate(groups [][]page.ID) (Decision, error) {
	for _, g := range groups {
		for i, pg := range g {
			e.log.add(pg, i == len(g)-1)
		}
	}
	d, err := e.m.Resync(e.log.end)
	if err == nil {
		clear(e.pool)
		clear(e.kept)
		clear(e.held)
	}
	return d, err
}

// checkInvariants compares the Machine and the edge with the log model and returns every
// violation (nil when none).
func checkInvariants(e *edge) []string {
	v := append([]string(nil), e.errs...)
	e.errs = nil
	bad := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	m := e.m
	// The view only moves forward, and only to group ends.
	if m.view < e.lastView {
		bad("view went back from %d to %d", e.lastView, m.view)
	}
	if !e.log.groupEnds[m.view] {
		bad("view %d is not a group end", m.view)
	}
	e.lastView = m.view
	if o := m.Oldest(); o < e.oldest {
		bad("oldest view went back from %d to %d", e.oldest, o)
	} else {
		e.oldest = o
	}
	// The Machine's pool is the pool, and every cached page has exactly the records of the
	// log up to the view, each once, in order.
	if !slices.Equal(sortedPages(m.cached), slices.Sorted(maps.Keys(e.pool))) {
		bad("the Machine caches %v, the pool holds %v", sortedPages(m.cached), slices.Sorted(maps.Keys(e.pool)))
	}
	applied := map[page.LSN]bool{}
	for pg, recs := range e.pool {
		if want := e.log.page(pg, 0, m.view); !slices.Equal(recs, want) {
			bad("cached page %d has %v, the log up to the view %d has %v", pg, recs, m.view, want)
		}
		for _, lsn := range recs {
			applied[lsn] = true
		}
	}
	// Held records: only for in-flight fetches, never also applied, and every record of the
	// page after the fetch's read LSN up to the view (unless the fetch will not install).
	for tok, lsns := range e.held {
		f := m.byToken[tok]
		if f == nil {
			bad("records %v held for fetch %d, which is not in flight", lsns, tok)
			continue
		}
		if !slices.Equal(lsns, f.held) {
			bad("fetch %d: the edge holds %v, the Machine %v", tok, lsns, f.held)
		}
		for _, lsn := range lsns {
			if applied[lsn] {
				bad("lsn %d is both applied and held", lsn)
			}
		}
	}
	for pg, f := range m.fetches {
		if m.byToken[f.token] != f || f.page != pg {
			bad("fetch %d of page %d is indexed wrongly", f.token, pg)
		}
		if m.cached[pg] {
			bad("page %d is both cached and being fetched", pg)
		}
		if want := e.log.page(pg, f.readLSN, m.view); !f.stale && !slices.Equal(f.held, want) {
			bad("fetch %d of page %d at %d holds %v, the log has %v after it up to the view %d",
				f.token, pg, f.readLSN, f.held, want, m.view)
		}
	}
	// Every record of the open group for a page being fetched is kept for it (unless a record
	// of the page was dropped before the fetch began, which the fetch knows).
	openKept := map[page.LSN]bool{}
	for _, s := range m.open {
		openKept[s.LSN] = true
	}
	for pg, f := range m.fetches {
		for _, lsn := range e.log.page(pg, m.view, m.pos) {
			if !openKept[lsn] && !f.missing && lsn >= f.readLSN {
				bad("fetch %d of page %d: lsn %d of the open group is not kept", f.token, pg, lsn)
			}
		}
	}
	if len(m.byToken) != len(m.fetches) {
		bad("%d fetches by token, %d by page", len(m.byToken), len(m.fetches))
	}
	// The open group's kept records are above the view and are what the edge keeps.
	for _, s := range m.open {
		if s.LSN < m.view || s.LSN >= m.pos {
			bad("open record %d outside (view %d, position %d)", s.LSN, m.view, m.pos)
		}
		if _, ok := e.kept[s.LSN]; !ok {
			bad("open record %d not kept by the edge", s.LSN)
		}
	}
	if len(m.open) != len(e.kept) {
		bad("%d open records, the edge keeps %d", len(m.open), len(e.kept))
	}
	return v
}

func sortedPages(s map[page.ID]bool) []page.ID {
	out := make([]page.ID, 0, len(s))
	for pg := range s {
		out = append(out, pg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// describe prints the Machine's state and the pool for scenario files.
func (e *edge) describe() string {
	var b strings.Builder
	m := e.m
	fmt.Fprintf(&b, "view=%d position=%d oldest=%d readers=%d\n", m.view, m.pos, m.Oldest(), m.Readers())
	for _, pg := range slices.Sorted(maps.Keys(e.pool)) {
		fmt.Fprintf(&b, "cached p%d: %s\n", pg, lsns(e.pool[pg]))
	}
	for _, tok := range slices.Sorted(maps.Keys(m.byToken)) {
		f := m.byToken[tok]
		fmt.Fprintf(&b, "fetch f%d p%d read=%d held=%s joins=%d%s\n", tok, f.page, f.readLSN, lsns(f.held), f.joins, flags(f))
	}
	if len(m.open) > 0 {
		fmt.Fprintf(&b, "open group keeps %s\n", steps(m.open))
	}
	if len(m.skipped) > 0 {
		fmt.Fprintf(&b, "open group skipped pages %v\n", sortedPages(m.skipped))
	}
	return b.String()
}

func flags(f *fetch) string {
	s := ""
	if f.missing {
		s += " missing"
	}
	if f.stale {
		s += " stale"
	}
	if f.evicted {
		s += " evicted"
	}
	return s
}

func lsns(l []page.LSN) string {
	parts := make([]string, len(l))
	for i, x := range l {
		parts[i] = fmt.Sprint(x)
	}
	return "(" + strings.Join(parts, ",") + ")"
}

func steps(ss []Step) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%d:p%d:%v", s.LSN, s.Page, s.Action)
		if s.Action == Hold {
			parts[i] += fmt.Sprintf("(f%d)", s.Fetch)
		}
	}
	return strings.Join(parts, " ")
}
