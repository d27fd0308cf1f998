package sqlstore

import (
	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/rowexec"
	"github.com/dolthub/vitess/go/mysql"
)

// installExecGuards makes the engine's exec builder consult, for every node it builds, the
// binder of grouped subqueries to the execution (decorrelate.go), the privilege guard under policy p, the procedure recursion guard (sprecursion.go), the
// read-only transaction guard (readonly.go), SHOW CREATE TABLE's ENUM and SET defaults
// (showcreate.go), LOAD DATA's reader (loaddata.go), EXPLAIN (explain.go), ANALYZE TABLE without a
// current database (analyze.go), then guards (the prepared-plan guard
// when the plan cache is on), and last the set operations compared in their collations
// (setop.go). The guards' checks thus hold however the plan was made: a
// query, a cached prepared plan, a trigger or procedure body.
func installExecGuards(eng *sqle.Engine, p *filePolicy, guards ...sql.NodeExecBuilder) {
	setOps := &setOpBuilder{}
	eng.Analyzer.ExecBuilder = rowexec.NewOverrideBuilder(append(append(execOverrides{aggLookupBinder{}, &privilegeGuard{p: p}, procRecursion, readOnlyGuard{}, showCreateGuard{}, loadDataGuard{}, explainGuard{}, analyzeTableExec{}}, guards...), setOps))
	setOps.b = eng.Analyzer.ExecBuilder
}

// privilegeGuard refuses, when the statement runs, what GMS lets any user do: SET GLOBAL
// (MySQL: SUPER or SYSTEM_VARIABLES_ADMIN, error 1227) and server-side file access (the FILE privilege, error 1045, and
// secure_file_priv, error 1290).
type privilegeGuard struct{ p *filePolicy }

// Build implements sql.NodeExecBuilder.
func (g *privilegeGuard) Build(ctx *sql.Context, n sql.Node, _ sql.Row) (sql.RowIter, error) {
	switch n := n.(type) {
	case *plan.Set:
		return nil, g.checkSet(ctx, n)
	case *plan.Kill:
		return nil, g.checkKill(ctx, n)
	case *plan.Into:
		if n.Outfile == "" && n.Dumpfile == "" {
			return nil, nil
		}
		if err := g.p.checkPrivilege(ctx); err != nil {
			return nil, err
		}
		name := n.Outfile
		if name == "" {
			name = n.Dumpfile
		}
		return nil, g.p.creatable(name)
	case *plan.LoadData:
		if n.Local {
			return nil, nil
		}
		if err := g.p.checkPrivilege(ctx); err != nil {
			return nil, err
		}
		_, err := g.p.readable(n.File)
		if err != nil {
			if _, ok := err.(*mysql.SQLError); !ok {
				return nil, sql.ErrLoadDataCannotOpen.New(err.Error())
			}
		}
		return nil, err
	}
	return nil, nil
}

// checkKill reports an unknown connection (1094) instead of succeeding silently. (GMS's
// planner lets only SUPER run KILL at all, stricter than MySQL, where a user may kill its own
// account's connections.)
func (g *privilegeGuard) checkKill(ctx *sql.Context, n *plan.Kill) error {
	for _, p := range ctx.ProcessList.Processes() {
		if p.Connection == n.ConnID {
			return nil
		}
	}
	return mysql.NewSQLError(mysql.ERNoSuchThread, mysql.SSUnknownSQLState, "Unknown thread id: %d", n.ConnID)
}

// checkSet refuses a SET of a global (or persisted) system variable without SUPER. GMS
// cannot grant SYSTEM_VARIABLES_ADMIN (its GRANT accepts only a few dynamic privileges), so
// SUPER is the privilege that allows it here.
func (g *privilegeGuard) checkSet(ctx *sql.Context, n *plan.Set) error {
	for _, e := range n.Exprs {
		sf, ok := e.(*expression.SetField)
		if !ok {
			continue
		}
		sv, ok := sf.LeftChild.(*expression.SystemVar)
		if !ok {
			continue
		}
		scope, ok := sv.Scope.(*sql.MysqlScope)
		if !ok || scope.Type == sql.SystemVariableScope_Session || scope.Type == sql.SystemVariableScope_Both {
			continue
		}
		if g.p.mdb.UserActivePrivilegeSet(ctx).Has(sql.PrivilegeType_Super) {
			return nil
		}
		return mysql.NewSQLError(mysql.ERSpecifiedAccessDenied, mysql.SSClientError,
			"Access denied; you need (at least one of) the SUPER or SYSTEM_VARIABLES_ADMIN privilege(s) for this operation")
	}
	return nil
}
