package route

import (
	"fmt"
	"strings"
)

// Describe returns the session's state as "key: value" lines in a fixed order, the replay
// statements in replay order, for tests and for the proxy's diagnostics.
func (s *Session) Describe() []string {
	var l []string
	add := func(format string, args ...any) { l = append(l, fmt.Sprintf(format, args...)) }
	add("consistency: %s", s.consistency)
	add("in-txn: %t", s.inTxn)
	add("autocommit: %t", !s.autocommitOff)
	add("last-commit: %d", s.lastCommit)
	if s.commitUnknown {
		add("commit-lsn-unknown: true")
	}
	if s.dirty {
		add("uncommitted-write: true")
	}
	if len(s.temp) > 0 {
		add("temp-tables: %s", strings.Join(sortedKeys(s.temp), ","))
	}
	if len(s.rwVars) > 0 {
		add("rw-user-vars: %s", strings.Join(sortedKeys(s.rwVars), ","))
	}
	if len(s.unreplayable) > 0 {
		add("unreplayable-vars: %s", strings.Join(sortedKeys(s.unreplayable), ","))
	}
	if len(s.nodeLocal) > 0 {
		add("node-local-vars: %s", strings.Join(sortedKeys(s.nodeLocal), ","))
	}
	if p := s.Pins(); len(p) > 0 {
		add("pins: %s", strings.Join(p, ", "))
	}
	for _, r := range s.Replay(RW) {
		add("replay: %s", r)
	}
	ro := s.Replay(RO)
	if len(ro) != len(s.Replay(RW)) {
		add("replay on an RO: %d statements", len(ro))
	}
	add("generation: %d", s.gen)
	return l
}
