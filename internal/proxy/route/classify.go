package route

import (
	"strings"

	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// classify works out where one statement may go and what it changes. st is the parsed
// statement, or nil when the parser rejected the text.
func (s *Session) classify(text string, st sqlparser.Statement) info {
	if st == nil {
		return s.unparsed(text)
	}
	switch n := st.(type) {
	case *sqlparser.Select, *sqlparser.SetOp, *sqlparser.ParenSelect:
		return s.query(text, n)
	case *sqlparser.Explain:
		return s.explain(text, n)
	case *sqlparser.Show:
		return s.show(text, n)
	case *sqlparser.Insert, *sqlparser.Update, *sqlparser.Delete, *sqlparser.Load:
		in := rw(text, "write")
		in.fx.write = true
		return in
	case *sqlparser.DDL:
		return s.ddl(text, n)
	case *sqlparser.AlterTable:
		in := rw(text, "DDL")
		in.fx.write, in.fx.implicitCommit = true, true
		if name := strings.ToLower(n.Table.Name.String()); s.temp[name] {
			in.fx.tempSticky = true
		}
		return in
	case *sqlparser.DBDDL, *sqlparser.CreateSpatialRefSys:
		in := rw(text, "DDL")
		in.fx.write, in.fx.implicitCommit = true, true
		return in
	case *sqlparser.CreateUser, *sqlparser.RenameUser, *sqlparser.DropUser, *sqlparser.CreateRole,
		*sqlparser.DropRole, *sqlparser.GrantPrivilege, *sqlparser.GrantRole, *sqlparser.GrantProxy,
		*sqlparser.RevokePrivilege, *sqlparser.RevokeAllPrivileges, *sqlparser.RevokeRole,
		*sqlparser.RevokeProxy:
		in := rw(text, "account management")
		in.fx.write, in.fx.implicitCommit = true, true
		return in
	case *sqlparser.ShowGrants, *sqlparser.ShowPrivileges:
		return readInfo(text)
	case *sqlparser.Set:
		return s.set(text, n)
	case *sqlparser.Use:
		in := rw(text, "session state")
		db := n.DBName.String()
		in.fx.db = &db
		return in
	case *sqlparser.Begin:
		in := rw(text, "transaction")
		if strings.Contains(strings.ToLower(n.TransactionCharacteristic), "read only") {
			in.reason = "read-only transaction"
		}
		in.fx.begin, in.fx.implicitCommit = true, true
		return in
	case *sqlparser.Commit:
		in := rw(text, "transaction")
		in.fx.end = true
		in.fx.chain = chained(text)
		return in
	case *sqlparser.Rollback:
		in := rw(text, "transaction")
		in.fx.end, in.fx.rollback = true, true
		in.fx.chain = chained(text)
		return in
	case *sqlparser.Savepoint, *sqlparser.RollbackSavepoint, *sqlparser.ReleaseSavepoint:
		return rw(text, "savepoint")
	case *sqlparser.LockTables:
		in := rw(text, "LOCK TABLES")
		in.fx.lockTables, in.fx.implicitCommit = 1, true
		return in
	case *sqlparser.UnlockTables:
		in := rw(text, "LOCK TABLES")
		in.fx.lockTables = -1
		return in
	case *sqlparser.Call:
		in := rw(text, "stored procedure")
		in.fx.call, in.fx.write = true, true
		return in
	case *sqlparser.Prepare:
		return s.prepare(text, n)
	case *sqlparser.Execute:
		return s.execute(text, n)
	case *sqlparser.Deallocate:
		in := rw(text, "prepared statement")
		in.fx.deallocate = strings.ToLower(n.Name)
		return in
	case *sqlparser.Kill:
		return rw(text, "node-specific: KILL")
	case *sqlparser.Flush, *sqlparser.Analyze, *sqlparser.OtherAdmin, *sqlparser.PurgeBinaryLogs,
		*sqlparser.ChangeReplicationSource, *sqlparser.ChangeReplicationFilter,
		*sqlparser.StartReplica, *sqlparser.StopReplica, *sqlparser.ResetReplica:
		in := rw(text, "administration")
		in.fx.write = true
		return in
	}
	in := rw(text, "unclassified")
	in.fx.unknown, in.fx.write = true, true
	return in
}

// readInfo is an info for a read an RO may answer.
func readInfo(text string) info {
	return info{text: text, read: true, pure: true}
}

// chained reports COMMIT AND CHAIN / ROLLBACK AND CHAIN (the parser drops the clause).
func chained(text string) bool {
	w := wordsOf(text, 8)
	for i, x := range w {
		if x == "chain" {
			return i == 0 || w[i-1] != "no"
		}
	}
	return false
}

// ddl classifies CREATE/DROP/RENAME/TRUNCATE of tables, views, triggers, procedures…,
// tracking the session's temporary tables.
func (s *Session) ddl(text string, n *sqlparser.DDL) info {
	in := rw(text, "DDL")
	in.fx.write = true
	switch {
	case n.Action == sqlparser.CreateStr && n.Temporary:
		// Only this session sees it: no commit an RO would have to wait for.
		in.reason, in.fx.write = "temporary table", false
		in.fx.tempCreate = []string{strings.ToLower(n.Table.Name.String())}
		return in
	case n.Action == sqlparser.DropStr && len(n.FromTables) > 0:
		for _, t := range n.FromTables {
			in.fx.tempDrop = append(in.fx.tempDrop, strings.ToLower(t.Name.String()))
		}
		if n.Temporary {
			// DROP TEMPORARY TABLE neither commits nor touches a base table.
			in.reason, in.fx.write = "temporary table", false
			return in
		}
	case n.Action == sqlparser.RenameStr:
		for _, t := range n.FromTables {
			in.fx.tempSticky = in.fx.tempSticky || s.temp[strings.ToLower(t.Name.String())]
		}
	}
	in.fx.implicitCommit = true
	return in
}

// unparsed classifies text the parser rejected: it goes to the RW, and the few keywords
// that change the session's transaction or connection state are recognised.
func (s *Session) unparsed(text string) info {
	in := rw(text, "cannot parse")
	w := wordsOf(text, 3)
	if len(w) == 0 {
		in.reason = "empty statement"
		return in
	}
	second := ""
	if len(w) > 1 {
		second = w[1]
	}
	switch w[0] {
	case "xa":
		in.reason = "XA transaction"
		switch second {
		case "start", "begin":
			in.fx.begin = true
		case "commit", "rollback":
			in.fx.end = true
		}
		return in
	case "handler":
		in.reason = "HANDLER"
		in.fx.handler = second != "" // HANDLER t OPEN|READ|CLOSE all need the same connection
		return in
	}
	// Anything else may have changed the connection's state, including assigning user
	// variables (SELECT @x := …, which this parser rejects).
	in.fx.unknown, in.fx.write = true, true
	in.fx.rwVars = userVarsIn(text)
	return in
}

// userVarsIn returns the user variables (@name) named in text, lower case.
func userVarsIn(text string) (vars []string) {
	defer func() {
		if recover() != nil { // the tokenizer is third-party code fed client input
			vars = nil
		}
	}()
	tk := sqlparser.NewStringTokenizer(text)
	for {
		typ, val := tk.Scan()
		if typ == 0 || tk.LastError != nil {
			break
		}
		if v := string(val); strings.HasPrefix(v, "@") && !strings.HasPrefix(v, "@@") {
			vars = append(vars, userVarName(v))
		}
	}
	return vars
}

// userVarName normalises "@x", "@`x`", "@'x'" to "x".
func userVarName(v string) string {
	v = strings.TrimPrefix(v, "@")
	v = strings.Trim(v, "`'\"")
	return strings.ToLower(v)
}
