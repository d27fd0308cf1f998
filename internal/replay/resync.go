package replay

import (
	"fmt"

	"strata/internal/page"
)

// Resync is the decision when the stream cannot continue: the Log Stores no longer hold the
// RO's position (logclient's ErrTruncated), so the records between it and their first
// retained LSN will never be seen. at is the durable group end to restart from (the log
// reader's GroupEnd), at or past the current view. Every cached page, kept record and
// in-flight fetch is dropped (a fetch in flight is answered Retry), and at is published as
// the view at once: the pages will be read from the Page Stores at it. Views readers hold
// stay counted; the versions they need are kept by the purge horizon, not by the cache.
func (m *Machine) Resync(at page.LSN) (Decision, error) {
	if at < m.view {
		return Decision{}, fmt.Errorf("replay: re-sync at lsn %d, behind the view %d", at, m.view)
	}
	m.open = nil
	clear(m.skipped)
	clear(m.cached)
	clear(m.fetches)
	clear(m.byToken)
	m.dead = m.next
	m.view, m.pos = at, at
	return Decision{Publish: true, View: at, Resync: true}, nil
}
