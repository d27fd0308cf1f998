package route

// decide turns the classified statements of one string into a Decision, given the session's
// state before they run.
func (s *Session) decide(infos []info) Decision {
	d := Decision{Consistency: s.consistency, InTransaction: s.inTransaction(), Statements: len(infos)}
	for _, in := range infos {
		if in.intercept {
			d.Target, d.Reason, d.Error = Proxy, in.reason, in.errText
			if len(infos) > 1 {
				d.Error = "SET " + ConsistencyVar + " must be a statement of its own"
			}
			return d
		}
	}
	reason, pure, conn := "", true, AnyConn
	for _, in := range infos {
		pure = pure && in.pure
		if in.conn > conn {
			conn = in.conn
		}
		if reason != "" {
			continue
		}
		switch {
		case !in.read:
			reason = in.reason
		case s.readsRWVar(in.reads) != "":
			reason = "reads user variable @" + s.readsRWVar(in.reads) + " set on the RW"
		case !readKeyword(firstKeyword(in.text)):
			reason = "first keyword " + firstKeyword(in.text)
		}
	}
	if reason == "" {
		reason = s.allRW()
	}
	d.Resendable = pure && !d.InTransaction
	if len(infos) > 1 && reason != "" {
		reason = "multi-statement: " + reason
	}
	if conn == Previous && len(infos) == 1 {
		// SHOW WARNINGS and friends describe the previous statement, wherever it ran.
		d.Target, d.Reason, d.Conn = s.prev, infos[0].reason, Previous
		if s.prev == Proxy {
			d.Target, d.Conn = RW, AnyConn
		}
		if d.Target == RW && s.Pinned() {
			d.Conn = Pinned
		}
		return d
	}
	if reason == "" {
		d.Target, d.Reason = RO, "autocommit read"
		switch s.consistency {
		case SessionConsistency:
			d.MinLSN, d.NeedDurable = s.lastCommit, s.commitUnknown
		case GlobalConsistency:
			d.MinLSN, d.NeedDurable = s.lastCommit, true
		}
		return d
	}
	d.Target, d.Reason = RW, reason
	switch {
	case s.Pinned():
		d.Conn = Pinned
	case conn == LastRW:
		d.Conn = LastRW
	}
	return d
}

// inTransaction reports whether a statement now runs inside a transaction.
func (s *Session) inTransaction() bool {
	return s.inTxn || s.autocommitOff
}

// allRW returns why every statement of the session goes to the RW, or "".
func (s *Session) allRW() string {
	switch {
	case s.inTxn:
		return "in transaction"
	case s.autocommitOff:
		return "autocommit=0"
	case s.lockTables:
		return "LOCK TABLES"
	case len(s.temp) > 0 || s.tempSticky:
		// A temporary table lives on the RW connection and shadows a base table of the same
		// name; any statement may name it, so all of them go there.
		return "temporary tables"
	case len(s.unreplayable) > 0:
		return "session variables the proxy cannot replay"
	case s.nextTxn:
		return "next transaction characteristics"
	}
	return ""
}

// readsRWVar returns a user variable among vars whose value lives on the RW, or "".
func (s *Session) readsRWVar(vars []string) string {
	for _, v := range vars {
		if s.rwVars[v] {
			return v
		}
	}
	return ""
}

// Pins returns why the session's RW connection must stay the session's own (state that
// lives only on it), in a fixed order; none means the edge may pool it between statements.
func (s *Session) Pins() []string {
	var p []string
	add := func(on bool, why string) {
		if on {
			p = append(p, why)
		}
	}
	add(s.inTxn, "transaction")
	add(s.autocommitOff, "autocommit=0")
	add(s.nextTxn, "next transaction characteristics")
	add(s.lockTables, "LOCK TABLES")
	add(len(s.temp) > 0 || s.tempSticky, "temporary tables")
	add(s.namedLocks, "named locks")
	add(len(s.rwVars) > 0, "user variables")
	add(len(s.nodeLocal) > 0, "node-local session variables")
	add(len(s.unreplayable) > 0, "session variables the proxy cannot replay")
	add(s.handler, "HANDLER")
	add(s.call, "stored procedure")
	add(s.unknown, "unclassified statement")
	for _, p := range s.prepared {
		if !p.known {
			add(true, "prepared from an unknown text")
			break
		}
	}
	return p
}

// Pinned reports whether the session holds state on its RW connection (Pins).
func (s *Session) Pinned() bool {
	return len(s.Pins()) > 0
}
