package replay

import (
	"fmt"

	"strata/internal/page"
	"strata/internal/redo"
)

// Action is what the edge does with one record's bytes.
type Action uint8

// Actions. Keep and Skip are the decisions at a record's arrival; Apply, Hold and Skip are the
// decisions for each kept record at its group's end.
const (
	Skip  Action = iota // drop the bytes: no cached page or fetch needs them
	Keep                // keep the bytes until the group ends
	Apply               // apply to the cached page (X-latched), then drop the bytes
	Hold                // keep the bytes with the fetch named by Step.Fetch
)

var actionNames = [...]string{"skip", "keep", "apply", "hold"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Rec is a record of the redo stream as the Machine sees it.
type Rec struct {
	LSN      page.LSN // where the record starts
	Next     page.LSN // where the next record starts: LSN plus the record's encoded size
	Page     page.ID  // page.Invalid for a record that names none (commit, end, abort)
	GroupEnd bool     // the record ends its group
}

// RecOf describes a decoded record found at lsn.
func RecOf(lsn page.LSN, r redo.Record) Rec {
	pg := r.Page
	if r.Type.PageLess() {
		pg = page.Invalid
	}
	return Rec{LSN: lsn, Next: lsn + page.LSN(r.Size()), Page: pg, GroupEnd: r.GroupEnd()}
}

// Step is the decision for one kept record at its group's end.
type Step struct {
	LSN    page.LSN
	Page   page.ID
	Action Action // Apply, Hold or Skip
	Fetch  Token  // the fetch that holds the record, for Hold
}

// Decision is the Machine's answer to a record.
type Decision struct {
	// Action is the arrival decision for the record itself: Keep or Skip.
	Action Action
	// Publish is set at a group end: carry out Steps (the open group's kept records, in LSN
	// order) under the replay barrier, then make View the read view.
	Publish bool
	View    page.LSN
	Steps   []Step
	// Resync is set by Resync: drop every cached page, kept byte and held record, and follow
	// the log again from View, which is published at once.
	Resync bool
}

// Machine is the replay state of one RO node. It is not safe for concurrent use: the edge
// serialises calls (see the package doc for the locks around it).
type Machine struct {
	view page.LSN // the published read view: a group end
	pos  page.LSN // where the next record starts

	open         []Step             // kept records of the open group (Action Keep), in LSN order
	skipped      map[page.ID]bool   // pages with a dropped record in the open group
	cached       map[page.ID]bool   // pages in the pool, as the edge reported them
	fetches      map[page.ID]*fetch // in-flight fetches by page
	byToken      map[Token]*fetch   // the same, by token
	next         Token              // the next token to hand out
	dead         Token              // tokens below it belong to fetches a Resync abandoned
	views        map[page.LSN]int   // read views in use and their counts
	skipFetching bool               // test only: Neon's bug, records of pages being fetched are skipped
}

// New returns a Machine that starts following the log at start, a durable group end, which
// is the first read view. Nothing is cached.
func New(start page.LSN) *Machine {
	return &Machine{
		view:    start,
		pos:     start,
		skipped: map[page.ID]bool{},
		cached:  map[page.ID]bool{},
		fetches: map[page.ID]*fetch{},
		byToken: map[Token]*fetch{},
		next:    1,
		dead:    1,
		views:   map[page.LSN]int{},
	}
}

// View returns the published read view.
func (m *Machine) View() page.LSN { return m.view }

// Position returns where the next record of the stream starts.
func (m *Machine) Position() page.LSN { return m.pos }

// Cached reports whether page pg is in the pool, as far as the Machine knows.
func (m *Machine) Cached(pg page.ID) bool { return m.cached[pg] }

// Record takes the next record of the stream. It returns the arrival decision and, at a group
// end, the group's steps and the new view. A record out of sequence is an error and changes
// nothing.
func (m *Machine) Record(r Rec) (Decision, error) {
	if err := m.take(r); err != nil {
		return Decision{}, err
	}
	d := Decision{Action: Skip}
	if r.Page != page.Invalid {
		f := m.fetches[r.Page]
		switch {
		case m.skipFetching && f != nil:
			// Neon's bug (tests only): skipped, and nothing remembers it.
		case m.cached[r.Page] || f != nil:
			d.Action = Keep
			m.open = append(m.open, Step{LSN: r.LSN, Page: r.Page, Action: Keep})
		default:
			m.skipped[r.Page] = true
		}
	}
	if r.GroupEnd {
		d.Publish, d.View, d.Steps = true, r.Next, m.publish(r.Next)
	}
	return d, nil
}

// Abort takes an abort record (redo.TAbort), which voids the open group: from is the start the
// record names, at or after the last group end (the group is everything since then, as for
// the Page Stores). Every kept record of the group is skipped, and the abort's end becomes
// the view: the same state as the last one, since nothing of the group was applied.
func (m *Machine) Abort(r Rec, from page.LSN) (Decision, error) {
	if from < m.view || from > r.LSN {
		return Decision{}, fmt.Errorf("replay: abort at lsn %d of a group from %d, but the last group ended at %d", r.LSN, from, m.view)
	}
	if err := m.take(r); err != nil {
		return Decision{}, err
	}
	steps := m.open
	for i := range steps {
		steps[i].Action = Skip
	}
	m.open = nil
	clear(m.skipped)
	for _, f := range m.fetches {
		f.missing = f.stale // a void record is no longer part of the page's history
	}
	m.view = r.Next
	return Decision{Action: Skip, Publish: true, View: r.Next, Steps: steps}, nil
}

// take checks that r is the next record and moves the position past it.
func (m *Machine) take(r Rec) error {
	if r.LSN != m.pos || r.Next <= r.LSN {
		return fmt.Errorf("replay: record at lsn %d (next %d), expected one at %d", r.LSN, r.Next, m.pos)
	}
	m.pos = r.Next
	return nil
}

// publish decides the open group's kept records against the cache as it is now and makes
// view the read view.
func (m *Machine) publish(view page.LSN) []Step {
	steps := m.open
	for i := range steps {
		s := &steps[i]
		switch f := m.fetches[s.Page]; {
		case m.cached[s.Page]:
			s.Action = Apply
		case f != nil:
			s.Action, s.Fetch = Hold, f.token
			f.held = append(f.held, s.LSN)
		default:
			s.Action = Skip
		}
	}
	for pg := range m.skipped {
		if f := m.fetches[pg]; f != nil {
			f.stale = true // it misses a record whose bytes were dropped
		}
	}
	m.open = nil
	clear(m.skipped)
	m.view = view
	return steps
}
