package route

import (
	"sort"
	"strings"
)

// replayState is the session state replayed on a backend connection: the current database
// and, in the order they were last set, SET NAMES, session variables and user variables set
// to literals. Moving an entry to
// the end when it is set again keeps the order's meaning: SET NAMES resets
// character_set_results, so a later SET character_set_results must come after it.
type replayState struct {
	db      string
	entries []entry
}

type entry struct {
	key, stmt string
}

// set records stmt under key at the end; an empty stmt (SET … = DEFAULT) removes the key,
// since a fresh connection has the default.
func (r *replayState) set(key, stmt string) {
	for i, e := range r.entries {
		if e.key == key {
			r.entries = append(r.entries[:i:i], r.entries[i+1:]...)
			break
		}
	}
	if stmt != "" {
		r.entries = append(r.entries, entry{key, stmt})
	}
}

// Replay returns the statements that bring a fresh backend connection of target (one just
// opened, or reset with COM_RESET_CONNECTION) to the session's state: session variables,
// character set and user variables set to literals (in the order last set), prepared statements (each under the
// database it was prepared in: table names resolve against it), the current database, and on
// the RW autocommit=0. Node-local state (Pins) is not in it: it stays on the pinned
// connection. The edge replays on a connection last brought to an older Generation.
func (s *Session) Replay(target Target) []string {
	var out []string
	for _, e := range s.replay.entries {
		out = append(out, e.stmt)
	}
	db := ""
	for _, name := range sortedKeys(s.prepared) {
		p := s.prepared[name]
		if !p.known || strings.HasPrefix(name, "#") {
			continue // unknown text: pinned; binary protocol: prepared by the edge
		}
		if p.db != "" && p.db != db {
			out = append(out, "USE "+quoteIdent(p.db))
			db = p.db
		}
		out = append(out, "PREPARE "+quoteIdent(name)+" FROM "+quoteString(p.text, s.noBackslash()))
	}
	if s.replay.db != "" && s.replay.db != db {
		out = append(out, "USE "+quoteIdent(s.replay.db))
	}
	if target == RW && s.autocommitOff {
		out = append(out, "SET autocommit = 0")
	}
	return out
}

// Generation numbers the session's replayable state: it grows whenever Replay's answer may
// have changed, and on Reset and Failover.
func (s *Session) Generation() uint64 {
	return s.gen
}

// replayKey is Replay(RW) as one string, to detect a change.
func (s *Session) replayKey() string {
	return strings.Join(s.Replay(RW), "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
