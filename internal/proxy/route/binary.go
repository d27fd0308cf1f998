package route

import "strconv"

// PrepareBinary routes a COM_STMT_PREPARE of text under the client's statement id: to the
// RW, which validates it (and tells the client the parameter and column counts). Done must
// follow, as after Route.
func (s *Session) PrepareBinary(id uint32, text string) Decision {
	return s.routeInfos([]info{{
		text:   text,
		reason: "prepared statement",
		fx:     effects{prepare: &prepared{name: binaryName(id), text: text, known: true, db: s.replay.db}},
	}})
}

// ExecuteBinary routes a COM_STMT_EXECUTE of statement id by the prepared text; the edge
// prepares the text on the chosen connection if it has not yet (PreparedText).
func (s *Session) ExecuteBinary(id uint32) Decision {
	p, ok := s.prepared[binaryName(id)]
	if !ok {
		return s.routeInfos([]info{rw("", "unknown prepared statement")})
	}
	in := s.classifyPrepared(p)
	if !in.read {
		in.reason = "execute: " + in.reason
	}
	in.fx.prepare, in.fx.deallocate = nil, ""
	return s.routeInfos([]info{in})
}

// CloseBinary forgets statement id (COM_STMT_CLOSE has no reply, so no Done).
func (s *Session) CloseBinary(id uint32) {
	delete(s.prepared, binaryName(id))
}

// PreparedText returns the text of binary-protocol statement id.
func (s *Session) PreparedText(id uint32) (string, bool) {
	p, ok := s.prepared[binaryName(id)]
	if !ok {
		return "", false
	}
	return p.text, true
}

func binaryName(id uint32) string {
	return "#" + strconv.FormatUint(uint64(id), 10)
}

// routeInfos decides for already classified statements and leaves them pending.
func (s *Session) routeInfos(infos []info) Decision {
	if s.pending != nil {
		s.Done(Result{})
		s.unknown = true
	}
	d := s.decide(infos)
	s.pending = &pending{infos: infos, d: d}
	return d
}
