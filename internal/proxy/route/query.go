package route

import (
	"strings"

	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// query classifies a SELECT (or UNION, TABLE, VALUES): a read unless something in it locks,
// assigns, touches connection state, calls a function that is not a known built-in, or reads
// a node-specific variable.
func (s *Session) query(text string, st sqlparser.Statement) info {
	in := readInfo(text)
	deny := func(reason string) {
		if in.read {
			in.read, in.reason = false, reason
		}
	}
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		switch n := node.(type) {
		case *sqlparser.Select:
			if n.Lock != "" {
				deny("locking read")
			}
			if n.QueryOpts.SQLCalcFoundRows {
				deny("SQL_CALC_FOUND_ROWS")
				in.conn = LastRW
			}
			s.into(&in, n.Into, deny)
		case *sqlparser.SetOp:
			if n.Lock != "" {
				deny("locking read")
			}
			s.into(&in, n.Into, deny)
		case *sqlparser.FuncExpr:
			s.function(&in, n, deny)
		case *sqlparser.TableFuncExpr:
			deny("table function")
		case *sqlparser.ColName:
			s.variable(&in, n, deny)
		}
		return true, nil
	}, st)
	return in
}

// into handles SELECT … INTO: user variables then live on the RW connection, where a later
// write can read them; a file is written on the node that runs it, the RW.
func (s *Session) into(in *info, into *sqlparser.Into, deny func(string)) {
	if into == nil {
		return
	}
	if into.Outfile != "" || into.Dumpfile != "" {
		deny("writes a file")
		in.pure = false
		return
	}
	deny("assigns user variables")
	in.pure = false
	for _, v := range into.Variables {
		if name := v.String(); strings.HasPrefix(name, "@") {
			in.fx.rwVars = append(in.fx.rwVars, userVarName(name))
		}
	}
}

// function routes calls: named locks and connection-state functions to the RW, functions that
// are not known built-ins (stored functions, which may write) to the RW.
func (s *Session) function(in *info, f *sqlparser.FuncExpr, deny func(string)) {
	name := f.Name.Lowered()
	if !f.Qualifier.IsEmpty() {
		deny("stored function")
		in.pure = false
		return
	}
	switch name {
	case "get_lock", "release_lock", "is_free_lock", "is_used_lock":
		deny("named lock")
		in.pure = false
		in.fx.namedLocks = 1
		return
	case "release_all_locks":
		deny("named lock")
		in.pure = false
		in.fx.namedLocks = -1
		return
	case "last_insert_id":
		deny("connection state: " + name + "()")
		in.conn = LastRW
		if len(f.Exprs) > 0 {
			in.pure = false // LAST_INSERT_ID(expr) sets it
		}
		return
	case "row_count", "found_rows", "connection_id":
		deny("connection state: " + name + "()")
		in.conn = LastRW
		return
	case "load_file", "master_pos_wait", "source_pos_wait", "wait_for_executed_gtid_set",
		"wait_until_sql_thread_after_gtids":
		deny("node-specific: " + name + "()")
		return
	}
	if !s.cfg.builtin(name) {
		deny("stored function")
		in.pure = false
	}
}

// variable handles @user and @@system variables read by a query.
func (s *Session) variable(in *info, c *sqlparser.ColName, deny func(string)) {
	if !c.Qualifier.IsEmpty() {
		return
	}
	v := c.Name.String()
	if !strings.HasPrefix(v, "@") {
		return
	}
	if !strings.HasPrefix(v, "@@") {
		name := userVarName(v)
		in.reads = append(in.reads, name)
		return
	}
	name := strings.ToLower(strings.TrimPrefix(v, "@@"))
	for _, p := range []string{"global.", "session.", "local.", "persist.", "persist_only."} {
		name = strings.TrimPrefix(name, p)
	}
	name = strings.Trim(name, "`")
	switch name {
	case "warning_count", "error_count":
		deny("diagnostics of the previous statement")
		in.conn = Previous
	case "last_insert_id", "identity", "insert_id":
		deny("connection state: @@" + name)
		in.conn = LastRW
	case "read_only", "super_read_only", "innodb_read_only", "transaction_read_only",
		"tx_read_only", "hostname", "server_id", "server_uuid", "port", "report_host",
		"gtid_executed", "gtid_purged", "pseudo_thread_id":
		deny("node-specific: @@" + name)
	}
	if name == ConsistencyVar {
		deny("proxy variable")
	}
}

// explain routes EXPLAIN like what it explains: EXPLAIN ANALYZE runs the statement, and a
// plan of a write is asked of the RW.
func (s *Session) explain(text string, n *sqlparser.Explain) info {
	inner := s.classify(text, n.Statement)
	if inner.read {
		return inner
	}
	in := rw(text, "explain: "+inner.reason)
	if n.Analyze {
		in.fx = inner.fx
	} else {
		in.pure = true
	}
	return in
}

// show routes SHOW: catalog and session reads to an RO, node-specific ones to the RW, and
// SHOW WARNINGS/ERRORS to the connection of the previous statement.
func (s *Session) show(text string, n *sqlparser.Show) info {
	switch strings.ToLower(n.Type) {
	case "warnings", "errors", "count(*) warnings", "count(*) errors":
		in := rw(text, "diagnostics of the previous statement")
		in.conn, in.pure = Previous, true
		return in
	case "tables", "columns", "fields", "index", "indexes", "keys", "databases", "schemas",
		"create table", "create view", "create database", "create schema", "create trigger",
		"create procedure", "create function", "create event", "table status", "triggers",
		"events", "procedure status", "function status", "charset", "character set",
		"collation", "engines", "privileges", "grants", "full tables", "full columns":
		return readInfo(text)
	case "processlist", "full processlist", "status", "variables", "engine", "master status",
		"binary logs", "open tables", "replica status", "slave status", "binary log status",
		"plugins":
		in := rw(text, "node-specific: SHOW "+strings.ToUpper(n.Type))
		in.pure = true
		return in
	}
	in := rw(text, "unclassified SHOW")
	in.pure = true
	return in
}
