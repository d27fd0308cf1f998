package replay

import (
	"fmt"

	"strata/internal/page"
)

// Acquire registers a reader of the current view (a transaction's snapshot) and returns it.
// The view stays counted until Release.
func (m *Machine) Acquire() page.LSN {
	m.views[m.view]++
	return m.view
}

// Release ends a use of view v that Acquire returned.
func (m *Machine) Release(v page.LSN) error {
	n, ok := m.views[v]
	if !ok {
		return fmt.Errorf("replay: release of view %d, which no reader holds", v)
	}
	if n == 1 {
		delete(m.views, v)
	} else {
		m.views[v] = n - 1
	}
	return nil
}

// Oldest returns the oldest view a reader here may still read: the oldest one held, or the
// current view when none is. It never goes back, since views are acquired only at the current
// view, which only moves forward. The edge reports it to the read-write node's purge
// (engine.DB.ReportSnapshot) under a lease.
func (m *Machine) Oldest() page.LSN {
	o := m.view
	for v := range m.views {
		o = min(o, v)
	}
	return o
}

// Readers returns how many view uses are open.
func (m *Machine) Readers() int {
	n := 0
	for _, c := range m.views {
		n += c
	}
	return n
}
