package route

// Done tells the session how the statement string it last routed went. Effects of the
// statements that succeeded are applied; the server status flags from the RW, when given,
// then override what the session believed about its transaction and autocommit state.
func (s *Session) Done(res Result) {
	p := s.pending
	if p == nil {
		return
	}
	s.pending = nil
	if p.d.Error != "" {
		return // the proxy refused it: nothing ran
	}
	before := s.replayKey()
	hadNextTxn := s.nextTxn
	n := len(p.infos)
	if !res.OK {
		n = max(0, min(res.Completed, n))
	}
	for i := 0; i < n; i++ {
		s.apply(p.infos[i].fx)
	}
	if !res.OK && n < len(p.infos) {
		s.failed(p.infos[n].fx, res.ErrCode)
	}
	if p.d.Target == RW && res.HasStatus {
		s.inTxn = res.Status&StatusInTrans != 0
		s.autocommitOff = res.Status&StatusAutocommit == 0
	}
	if p.d.Target == RW && hadNextTxn && !s.inTxn && n > 0 {
		s.nextTxn = false // the transaction it described has ended
	}
	s.commits(p.d, res, n)
	s.prev = p.d.Target
	if s.replayKey() != before {
		s.gen++
	}
}

// commits tracks the session's last commit LSN: the one the RW reports, or, when a write
// committed without one, the RW durable LSN fetched for the next read.
func (s *Session) commits(d Decision, res Result, n int) {
	switch {
	case res.CommitLSN > 0:
		s.lastCommit = max(s.lastCommit, res.CommitLSN)
		s.dirty, s.commitUnknown = false, false
	case s.dirty && !s.inTransaction() && d.Target == RW && n > 0:
		// Committed (the transaction is over and was not rolled back) with no LSN reported:
		// the next read waits for the RW's durable LSN, which covers it.
		s.dirty, s.commitUnknown = false, true
	}
	if res.DurableLSN > 0 {
		s.lastCommit = max(s.lastCommit, res.DurableLSN)
		s.commitUnknown = false
	}
}

// apply makes the changes of one statement that succeeded.
func (s *Session) apply(fx effects) {
	if fx.implicitCommit && s.inTxn {
		s.inTxn = false
	}
	if fx.write {
		s.dirty = true
	}
	switch {
	case fx.begin:
		s.inTxn = true
	case fx.end:
		s.inTxn = fx.chain
		if fx.rollback {
			s.dirty = false
		}
	}
	switch fx.autocommit {
	case 1:
		s.autocommitOff, s.inTxn = false, false // SET autocommit=1 commits
	case -1:
		s.autocommitOff = true
	}
	switch fx.lockTables {
	case 1:
		s.lockTables = true
	case -1:
		s.lockTables = false
	}
	switch fx.namedLocks {
	case 1:
		s.namedLocks = true
	case -1:
		s.namedLocks = false
	}
	for _, t := range fx.tempCreate {
		s.temp[t] = true
	}
	for _, t := range fx.tempDrop {
		delete(s.temp, t)
	}
	s.tempSticky = s.tempSticky || fx.tempSticky
	s.applyVars(fx)
	if fx.db != nil {
		s.replay.db = *fx.db
	}
	if fx.prepare != nil {
		s.prepared[fx.prepare.name] = fx.prepare
	}
	if fx.deallocate != "" {
		delete(s.prepared, fx.deallocate)
	}
	s.nextTxn = s.nextTxn || fx.nextTxn
	s.call = s.call || fx.call
	s.handler = s.handler || fx.handler
	s.unknown = s.unknown || fx.unknown
	if fx.consistency != nil {
		s.consistency = *fx.consistency
	}
}

// applyVars records variables set by a statement that succeeded.
func (s *Session) applyVars(fx effects) {
	for _, v := range fx.rwVars {
		s.rwVars[v] = true
		s.replay.set("@"+v, "")
		delete(s.userStrs, v)
	}
	for _, a := range fx.userVars {
		// In the ordered entries, so that it is replayed under the sql_mode it was
		// rendered for.
		s.replay.set("@"+a.name, "SET @"+quoteIdent(a.name)+" = "+a.value)
		delete(s.rwVars, a.name)
		delete(s.userStrs, a.name)
		if a.isStr {
			s.userStrs[a.name] = a.raw
		}
	}
	for _, a := range fx.sysVars {
		s.replay.set(a.name, a.value)
		delete(s.unreplayable, a.name)
	}
	if fx.names != "" {
		s.replay.set("names", fx.names)
		delete(s.unreplayable, "names")
		delete(s.unreplayable, "charset")
	}
	for _, v := range fx.unreplayable {
		s.unreplayable[v] = true
	}
	for _, v := range fx.nodeLocal {
		s.nodeLocal[v] = true
	}
}

// failed applies what a failed statement still does: COMMIT and ROLLBACK end the
// transaction whatever their outcome (a failed commit is rolled back or in doubt), and a
// deadlock (1213) rolls back the whole transaction.
func (s *Session) failed(fx effects, code uint16) {
	if fx.end || code == 1213 {
		s.inTxn, s.dirty = false, false
	}
}

// FailoverReport is what a session lost when its RW changed.
type FailoverReport struct {
	// RolledBack: the session was inside a transaction (or in autocommit=0, where one may
	// be open), which is gone; the edge answers its in-flight or next statement with an
	// error saying the transaction was rolled back.
	RolledBack bool
	// Lost names connection state that lived on the old RW connection and is gone, as after
	// a reconnect (temporary tables, named locks, LOCK TABLES, user variables set there…).
	Lost []string
}

// Failover tells the session that its RW changed: state that lived only on the old RW
// connection is dropped and reported. What Replay carries (database, character set, session
// variables, literal user variables, prepared statements, autocommit=0) follows the session
// to the new RW.
func (s *Session) Failover() FailoverReport {
	r := FailoverReport{RolledBack: s.inTransaction()}
	for _, p := range s.Pins() {
		switch p {
		case "transaction", "autocommit=0":
		default:
			r.Lost = append(r.Lost, p)
		}
	}
	s.inTxn, s.dirty = false, false
	s.nextTxn, s.lockTables, s.namedLocks, s.tempSticky = false, false, false, false
	s.handler, s.call, s.unknown = false, false, false
	s.temp, s.rwVars, s.nodeLocal = map[string]bool{}, map[string]bool{}, map[string]bool{}
	s.unreplayable = map[string]bool{}
	for name, p := range s.prepared {
		if !p.known {
			delete(s.prepared, name)
		}
	}
	if s.pending != nil {
		s.pending = nil
	}
	s.prev = Proxy
	s.gen++
	return r
}
