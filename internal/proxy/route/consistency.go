package route

import (
	"fmt"
	"strings"
)

// Consistency is a session's read consistency level.
type Consistency uint8

const (
	// SessionConsistency (the default) is read-your-writes: a read goes to an RO only once it has
	// applied the session's last commit LSN.
	SessionConsistency Consistency = iota
	// EventualConsistency lets a read go to any RO, however far behind.
	EventualConsistency
	// GlobalConsistency makes the RO first reach the RW's durable LSN at the time of the read: the
	// read sees every commit acknowledged to anyone before it started.
	GlobalConsistency
)

// ConsistencyVar is the session variable the proxy intercepts to set the level.
const ConsistencyVar = "strata_read_consistency"

func (c Consistency) String() string {
	switch c {
	case SessionConsistency:
		return "session"
	case EventualConsistency:
		return "eventual"
	case GlobalConsistency:
		return "global"
	}
	return fmt.Sprintf("Consistency(%d)", uint8(c))
}

// ParseConsistency reads a level's name, in any case (the proxy's flag uses it too).
func ParseConsistency(s string) (Consistency, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "session":
		return SessionConsistency, nil
	case "eventual":
		return EventualConsistency, nil
	case "global":
		return GlobalConsistency, nil
	}
	return SessionConsistency, fmt.Errorf("%s must be 'session', 'eventual' or 'global', not %q", ConsistencyVar, s)
}
