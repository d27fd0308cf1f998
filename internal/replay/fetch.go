package replay

import (
	"fmt"

	"strata/internal/page"
)

// Token names an in-flight fetch.
type Token uint64

// fetch is a read of one page from the Page Stores in flight.
type fetch struct {
	token   Token
	page    page.ID
	readLSN page.LSN
	held    []page.LSN // records held for it, ascending, all above readLSN
	joins   int        // readers waiting for it besides the one that issued it
	// missing: a record of the page in the open group was dropped before the fetch began;
	// the page is right at the current view but must not be cached.
	missing bool
	// stale: such a record has been published; the page cannot reach the view.
	stale bool
	// evicted: the pool gave up the frame the fetch was to fill.
	evicted bool
}

// Fetch is the Machine's answer to a miss.
type Fetch struct {
	Token   Token
	ReadLSN page.LSN // read the page from the Page Stores at this LSN
	// Joined: another reader's fetch of the page is in flight; wait for its outcome instead of
	// reading the page again.
	Joined bool
	// Cached: the page was installed since the caller looked; read it from the pool.
	Cached bool
}

// Outcome says what to do with a fetched page once the held records are applied to it.
type Outcome uint8

// Outcomes of a fetch.
const (
	// Install the page: it is cached from now on, current at the view.
	Install Outcome = iota + 1
	// Use the page for this read, at the current view, but do not cache it.
	Use
	// Retry: the page cannot be brought to the view; fetch it again.
	Retry
)

var outcomeNames = [...]string{"", "install", "use", "retry"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o != 0 {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Done is the Machine's answer to a fetched page.
type Done struct {
	Held    []page.LSN // apply these held records, in order, to the fetched page
	Outcome Outcome
}

// FetchStart registers a reader's miss of page pg. The reader reads the page at ReadLSN, the
// current view, unless another fetch of pg is in flight (Joined: wait for that one) or pg is
// cached (Cached).
func (m *Machine) FetchStart(pg page.ID) Fetch {
	if m.cached[pg] {
		return Fetch{Cached: true, ReadLSN: m.view}
	}
	if f := m.fetches[pg]; f != nil {
		f.joins++
		return Fetch{Token: f.token, ReadLSN: f.readLSN, Joined: true}
	}
	f := &fetch{token: m.next, page: pg, readLSN: m.view, missing: m.skipped[pg]}
	m.next++
	m.fetches[pg] = f
	m.byToken[f.token] = f
	return Fetch{Token: f.token, ReadLSN: f.readLSN}
}

// FetchDone takes the page a fetch read, whose LSN is pageLSN: the LSN of the last record
// applied to it, below the fetch's read LSN (0 for a page the Page Store does not have).
// It returns the held records above pageLSN and the outcome; with Install the page is cached
// from now on. The edge applies the records and installs the page while it holds the replay
// barrier shared. A fetch that a Resync abandoned is answered Retry.
func (m *Machine) FetchDone(tok Token, pageLSN page.LSN) (Done, error) {
	f, err := m.lookup(tok)
	if f == nil {
		return Done{Outcome: Retry}, err
	}
	if pageLSN >= f.readLSN {
		return Done{}, fmt.Errorf("replay: page %d fetched at lsn %d has lsn %d", f.page, f.readLSN, pageLSN)
	}
	m.drop(f)
	d := Done{Outcome: Install}
	for i, lsn := range f.held {
		if lsn > pageLSN {
			d.Held = f.held[i:]
			break
		}
	}
	switch {
	case f.stale:
		d = Done{Outcome: Retry}
	case f.missing || f.evicted:
		d.Outcome = Use
	default:
		m.cached[f.page] = true
	}
	return d, nil
}

// FetchFailed drops a fetch that could not read its page, with its held records; the page is
// not cached. Joined readers fail with it (or retry: the edge's choice).
func (m *Machine) FetchFailed(tok Token) error {
	f, err := m.lookup(tok)
	if f != nil {
		m.drop(f)
	}
	return err
}

// Evict tells the Machine that the pool dropped page pg: its records are skipped from now on.
// Evicting a page being fetched means the pool gave up the frame the fetch was to fill: the
// page will be used by its readers but not cached.
func (m *Machine) Evict(pg page.ID) error {
	switch f := m.fetches[pg]; {
	case m.cached[pg]:
		delete(m.cached, pg)
	case f != nil:
		f.evicted = true
	default:
		return fmt.Errorf("replay: evict of page %d, which is neither cached nor being fetched", pg)
	}
	return nil
}

// lookup returns the fetch of tok; nil without error for a fetch a Resync abandoned.
func (m *Machine) lookup(tok Token) (*fetch, error) {
	if f := m.byToken[tok]; f != nil {
		return f, nil
	}
	if tok < m.dead {
		return nil, nil
	}
	return nil, fmt.Errorf("replay: no fetch %d in flight", tok)
}

func (m *Machine) drop(f *fetch) {
	delete(m.fetches, f.page)
	delete(m.byToken, f.token)
}
