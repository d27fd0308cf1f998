package sqlstore

import (
	"context"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// Read-only transactions as MySQL 8 has them.
//
// The access mode of a transaction is READ ONLY when it was started with START TRANSACTION
// READ ONLY, or when it was started any other way (autocommit, START TRANSACTION, BEGIN)
// while the session's transaction_read_only is set (SET [SESSION] TRANSACTION READ ONLY,
// SET @@transaction_read_only = 1): see Session.StartTransaction. In such a transaction
//   - a row change to a table that is not temporary fails with 1792 (editor.go calls
//     checkWritable; GMS's validateReadOnlyTransaction refuses most of them earlier, with its
//     own message, which errcodes.go rewrites to MySQL's SQLSTATE and text);
//   - the DDL statements MySQL marks CF_DISALLOW_IN_RO_TRANS (sql_parse.cc) fail with 1792,
//     checked by readOnlyGuard when they run. They commit the open transaction first, as in
//     MySQL, so what decides is the session's access mode; CREATE and DROP of temporary
//     tables commit nothing, so the open transaction's mode decides too.
//
// SET TRANSACTION READ ONLY without SESSION applies to the next transaction only, and START
// TRANSACTION READ WRITE begins a read-write transaction in a read-only session (noteOneShot,
// below). Not as MySQL: SET @@transaction_read_only is for the session (MySQL: the next
// transaction).

// errReadOnlyTransaction returns MySQL's error for a write in a read-only transaction.
func errReadOnlyTransaction() error {
	return mysql.NewSQLError(erReadOnlyTransaction, "25006", "Cannot execute statement in a READ ONLY transaction.")
}

// sessionReadOnly reports whether the session's transactions are read-only by default.
func sessionReadOnly(ctx *sql.Context) bool {
	v, err := ctx.GetSessionVariable(ctx, "transaction_read_only")
	if err != nil {
		return false
	}
	if b, ok := v.(bool); ok {
		return b
	}
	n, ok := toUint(v)
	return ok && n != 0
}

// checkWritable refuses a row change to t in a read-only transaction unless t is temporary.
func checkWritable(tx *Transaction, t *Table) error {
	if tx.ro && !t.IsTemporary() {
		return errReadOnlyTransaction()
	}
	return nil
}

// readOnlyGuard refuses, when they run, the DDL statements MySQL does not allow in a
// read-only transaction (see above).
type readOnlyGuard struct{}

// Build implements sql.NodeExecBuilder.
func (readOnlyGuard) Build(ctx *sql.Context, n sql.Node, _ sql.Row) (sql.RowIter, error) {
	temp, ok := disallowedInReadOnly(n)
	if !ok {
		return nil, nil
	}
	if sessionReadOnly(ctx) {
		return nil, errReadOnlyTransaction()
	}
	if temp {
		if t, ok := ctx.GetTransaction().(*Transaction); ok && t != nil && !t.done && t.ro {
			return nil, errReadOnlyTransaction()
		}
	}
	return nil, nil
}

// disallowedInReadOnly reports whether n is a statement MySQL refuses in a read-only
// transaction, and whether it only creates or drops temporary tables (and so commits
// nothing). A TRUNCATE of a temporary table is let through: GMS also makes a DELETE without
// WHERE a TRUNCATE, and a DELETE of a temporary table is allowed.
func disallowedInReadOnly(n sql.Node) (temp, ok bool) {
	switch n := n.(type) {
	case *plan.CreateTable:
		return n.Temporary(), true
	case *plan.DropTable:
		for _, t := range n.Tables {
			if !isTempTableNode(t) {
				return false, true
			}
		}
		return true, true
	case *plan.Truncate:
		return false, !isTempTableNode(n.Child)
	case *plan.AddColumn, *plan.ModifyColumn, *plan.DropColumn, *plan.RenameColumn,
		*plan.AlterIndex, *plan.AlterPK, *plan.AlterAutoIncrement, *plan.AlterDefaultSet,
		*plan.AlterDefaultDrop, *plan.AlterTableCollation, *plan.CreateCheck, *plan.DropCheck,
		*plan.DropConstraint, *plan.CreateForeignKey, *plan.DropForeignKey, *plan.RenameForeignKey,
		*plan.RenameTable, *plan.CreateIndex, *plan.DropIndex,
		*plan.CreateDB, *plan.DropDB, *plan.AlterDB,
		*plan.CreateView, *plan.DropView, *plan.CreateTrigger, *plan.DropTrigger,
		*plan.CreateEvent, *plan.AlterEvent, *plan.DropEvent,
		*plan.CreateProcedure, *plan.DropProcedure,
		*plan.CreateUser, *plan.AlterUser, *plan.RenameUser, *plan.DropUser,
		*plan.Grant, *plan.GrantRole, *plan.Revoke, *plan.RevokeAll, *plan.RevokeRole:
		return false, true
	}
	return false, false
}

// isTempTableNode reports whether n resolves to a temporary table.
func isTempTableNode(n sql.Node) bool {
	var tt sql.TemporaryTable
	for n != nil {
		switch x := n.(type) {
		case *plan.ResolvedTable:
			tt, _ = x.Table.(sql.TemporaryTable)
			return tt != nil && tt.IsTemporary()
		case sql.UnaryNode:
			n = x.Child()
		default:
			return false
		}
	}
	return false
}

// oneShot is what SET TRANSACTION without GLOBAL or SESSION changed, for the next
// transaction only: the session variables' values before it, the statement that set them
// (its process id), whose own transaction is not the next one, and the statement that
// began the next one (START TRANSACTION begins two: GMS's for the statement, then its own).
type oneShot struct {
	pid  uint64
	used uint64
	prev map[string]any
}

// readOnlyTxn reports whether a transaction begun with char in ctx's statement is read-only:
// READ ONLY, or the session's mode unless the statement is START TRANSACTION READ WRITE.
func (s *Session) readOnlyTxn(ctx *sql.Context, char sql.TransactionCharacteristic) bool {
	if char == sql.ReadOnly {
		return true
	}
	return sessionReadOnly(ctx) && (s.readWritePid == 0 || s.readWritePid != ctx.Pid())
}

// noteOneShot notes START TRANSACTION READ WRITE (for readOnlyTxn), and remembers, when stmt
// is a SET TRANSACTION without GLOBAL or SESSION, the
// session's transaction_read_only and transaction_isolation before it: MySQL applies it to
// the next transaction only, GMS's plan builder makes it a session SET, and the session puts
// the values back once the next transaction has begun (Session.StartTransaction).
func noteOneShot(ctx context.Context, stmt ast.Statement) {
	sctx, ok := ctx.(*sql.Context)
	if !ok {
		return
	}
	s := sessionOf(sctx)
	if s == nil {
		return
	}
	if b, ok := stmt.(*ast.Begin); ok && b.TransactionCharacteristic == ast.TxReadWrite {
		// START TRANSACTION READ WRITE: GMS passes it on as a plain START TRANSACTION.
		s.readWritePid = sctx.Pid()
		return
	}
	set, ok := stmt.(*ast.Set)
	if !ok {
		return
	}
	for _, e := range set.Exprs {
		if e.Scope != ast.SetScope_None || e.Name == nil || !strings.EqualFold(e.Name.String(), "transaction") {
			continue
		}
		name := "transaction_isolation"
		if v, ok := e.Expr.(*ast.SQLVal); ok && strings.HasPrefix(strings.ToLower(string(v.Val)), "read ") {
			name = "transaction_read_only"
		}
		prev, err := sctx.GetSessionVariable(sctx, name)
		if err != nil {
			continue
		}
		if s.oneShot == nil {
			s.oneShot = &oneShot{prev: map[string]any{}}
		}
		s.oneShot.pid, s.oneShot.used = sctx.Pid(), 0
		if _, ok := s.oneShot.prev[name]; !ok {
			s.oneShot.prev[name] = prev
		}
	}
}

// beginOneShot is called as a transaction begins, before its characteristics are read: once
// the transaction a SET TRANSACTION without scope was for has begun, the next one puts the
// session variables back.
func (s *Session) beginOneShot(ctx *sql.Context) {
	o := s.oneShot
	if o == nil {
		return
	}
	switch pid := ctx.Pid(); {
	case pid == o.pid:
	case o.used == 0:
		o.used = pid
	case pid != o.used:
		s.oneShot = nil
		for name, v := range o.prev {
			_ = s.SetSessionVariable(ctx, name, v)
		}
	}
}
