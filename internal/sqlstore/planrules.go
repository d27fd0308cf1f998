package sqlstore

import (
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// installPlanRules adds Strata's analyzer rules that make plans use the indexes where GMS's
// own planning does not (tuplein.go, indexorder.go), one that compares a string IN a list of numbers as
// numbers (inmixed.go), one that keeps its lookups from
// converting constants out of an integer column's range (intcompare.go), one that sorts
// with each row's values read once (sortnode.go), one that compares row constructors IN a
// list with NULLs as SQL does (rowin.go), one that gives string functions dates and times as
// their text (temporaltext.go), one that casts strings to integers as MySQL does
// (intcast.go), one that types a date plus an interval as MySQL does (dateinterval.go),
// one that reads integers as dates (datenumber.go) and one that reads strings compared
// with numbers as numbers (numtext.go), one that reads a lookup join's inner leaves ahead
// (prefetch.go), one that hashes a hash join's string keys by their collation (hashkeys.go),
// and one that keeps EXPLAIN working on the plans that
// use them.
func installPlanRules(eng *sqle.Engine) {
	installTupleRule(eng)
	installMixedINRule(eng)
	installIntCompareRule(eng)
	installDateNumberRule(eng)
	installNumericTextRule(eng)
	installSortRule(eng)
	installRowINRule(eng)
	installTemporalTextRule(eng)
	installIntCastRule(eng)
	installDateIntervalRule(eng)
	installIndexOrderRule(eng)
	installPrefetchRule(eng)
	installHashKeyRule(eng)
	installAfterAll(eng, analyzer.Rule{Id: ruleExplainNotMax1Row, Apply: explainNotMax1Row})
}

// explainNotMax1Row clears GMS's "at most one row" flag for EXPLAIN. GMS sets it when a
// statement reads one row by a unique key, and its handler then fails when the statement
// returns more than one row, as EXPLAIN's plan lines do ("result max1Row iterator returned
// more than one row"; go-mysql-server server/handler.go:490). The analyser never shows the
// rules the DESCRIBE node (Analyzer.Analyze analyses the query under it alone), so the
// statement text tells, as for locking reads (locking.go).
func explainNotMax1Row(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, qFlags *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if qFlags != nil && qFlags.IsSet(sql.QFlagMax1Row) && isExplain(ctx.Query()) {
		qFlags.Unset(sql.QFlagMax1Row)
	}
	return n, transform.SameTree, nil
}

// isExplain reports whether q is an EXPLAIN, DESCRIBE or DESC statement.
func isExplain(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	for _, kw := range []string{"explain", "describe", "desc"} {
		if len(q) > len(kw) && strings.EqualFold(q[:len(kw)], kw) {
			switch q[len(kw)] {
			case ' ', '\t', '\r', '\n':
				return true
			}
		}
	}
	return false
}
