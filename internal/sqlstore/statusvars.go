package sqlstore

import (
	"sort"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// Strata's status variables: SHOW [GLOBAL|SESSION] STATUS lists them beside GMS's, read from
// the engine when the statement runs (SHOW STATUS LIKE 'strata%').
//
//   - Strata_role: rw, or ro on a read-only node.
//   - Strata_applied_lsn: the snapshot a new statement reads.
//   - Strata_durable_lsn: the log's durable end as this node knows it.
//   - On a read-only node that follows the log: Strata_replay_lag_bytes (durable log beyond
//     the read view), Strata_replay_lag_ms (how long it has had unpublished log, 0 when caught
//     up), Strata_replay_groups, Strata_replay_records_applied, Strata_replay_page_reads,
//     Strata_replay_resyncs, Strata_replay_catalog_changes.

// installStatusVars adds the rule that puts Strata's variables into SHOW STATUS. The rule is
// the process's (GMS shares rule lists between engines): the node reads the store of the
// statement's session.
func installStatusVars(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleStrataStatus, Apply: func(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
		return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
			if ss, ok := n.(*plan.ShowStatus); ok {
				return &strataStatus{ShowStatus: ss}, transform.NewTree, nil
			}
			return n, transform.SameTree, nil
		})
	}})
}

// strataStatus is SHOW STATUS with Strata's variables added, in name order.
type strataStatus struct{ *plan.ShowStatus }

var _ sql.ExecSourceRel = (*strataStatus)(nil)

// WithChildren implements sql.Node.
func (n *strataStatus) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 0 {
		return nil, sql.ErrInvalidChildrenNumber.New(n, len(children), 0)
	}
	return n, nil
}

// RowIter implements sql.ExecSourceRel.
func (n *strataStatus) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	it, err := n.ShowStatus.RowIter(ctx, row)
	if err != nil {
		return nil, err
	}
	rows, err := sql.RowIterToRows(ctx, it)
	if err != nil {
		return nil, err
	}
	if sess, ok := ctx.Session.(*Session); ok {
		rows = append(rows, sess.store.statusRows()...)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i][0].(string) < rows[j][0].(string) })
	return sql.RowsToRowIter(rows...), nil
}

// statusRows returns Strata's status variables now.
func (s *Store) statusRows() []sql.Row {
	db := s.db
	role := "rw"
	if db.ReadOnly() {
		role = "ro"
	}
	rows := []sql.Row{
		{"Strata_role", role},
		{"Strata_applied_lsn", uint64(db.VisibleLSN())},
		{"Strata_durable_lsn", uint64(db.DurableLSN())},
	}
	if st, ok := db.ReplayStats(); ok {
		rows = append(rows,
			sql.Row{"Strata_replay_lag_bytes", uint64(st.Durable - st.View)},
			sql.Row{"Strata_replay_lag_ms", st.Behind.Milliseconds()},
			sql.Row{"Strata_replay_groups", st.Groups},
			sql.Row{"Strata_replay_records_applied", st.Applied},
			sql.Row{"Strata_replay_page_reads", st.Fetches},
			sql.Row{"Strata_replay_resyncs", st.Resyncs},
			sql.Row{"Strata_replay_catalog_changes", st.CatalogChanges},
		)
		// On a read-only node the durable end is the log's, not the view.
		rows[2] = sql.Row{"Strata_durable_lsn", uint64(st.Durable)}
	}
	return rows
}
