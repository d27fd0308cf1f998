package sqlstore

import (
	"errors"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"

	"strata/internal/page"
)

// pendingPlan is an instantiated template on its way to execution; the exec builder guard
// checks it once the statement's transaction has begun.
type pendingPlan struct {
	root     sql.Node
	t        *planTemplate
	passed   bool
	rejected bool
}

// planGuard is consulted by GMS's exec builder for every node it builds; it acts only on the
// root of a pending template plan.
type planGuard struct {
	s   *Store
	eng *sqle.Engine
}

var errStalePlan = errors.New("sqlstore: prepared plan is stale")

// Build implements sql.NodeExecBuilder: nil, nil lets GMS build the node as usual.
func (g *planGuard) Build(ctx *sql.Context, n sql.Node, _ sql.Row) (sql.RowIter, error) {
	sess, ok := ctx.Session.(*Session)
	if !ok {
		return nil, nil
	}
	chk := sess.pending.Load()
	if chk == nil || chk.root != n {
		return nil, nil
	}
	sess.pending.Store(nil)
	if !g.templateValid(ctx, sess, chk.t) {
		chk.rejected = true
		return nil, errStalePlan
	}
	chk.passed = true
	// What GMS's QueryWithBindings does around binding and analysis.
	sql.IncrementStatusVariable(ctx, "Questions", 1)
	ctx.ClearWarnings()
	if chk.t.isSelect {
		sql.IncrementStatusVariable(ctx, "Com_select", 1)
	}
	for _, c := range chk.t.coms {
		sql.IncrementStatusVariable(ctx, c.name, c.n) // what binding it would have counted
	}
	return nil, nil
}

// templateValid reports whether the statement's transaction sees the catalog the template
// was planned on, and the session is as it was then. It runs after the transaction has
// begun and pins its snapshot first.
//
// Catalog changes commit through commitCatalog: catalogBusy is raised before the commit and
// lowered after catalogLSN has moved to the commit's end. So once the snapshot is pinned,
// reading catalogBusy == 0 and then catalogLSN gives an LSN at or above every catalog commit
// the snapshot includes; the template was made the same way. Equal LSNs, included in both
// snapshots, mean both see exactly the catalog commits up to it.
func (g *planGuard) templateValid(ctx *sql.Context, sess *Session, t *planTemplate) bool {
	if t.sess != sess || t.sessGen != sess.planGen.Load() {
		return false
	}
	tx, ok := ctx.GetTransaction().(*Transaction)
	if !ok || tx == nil || tx.done || tx.kv.WroteTree(g.s.sys) {
		return false
	}
	snap := tx.kv.Snapshot()
	if g.s.catalogBusy.Load() != 0 {
		return false
	}
	l := page.LSN(g.s.catalogLSN.Load())
	if l != t.catLSN || l > snap {
		return false
	}
	g.eng.Analyzer.Catalog.MySQLDb.UserActivePrivilegeSet(ctx)
	if _, priv := sess.GetPrivilegeSet(); priv != t.priv {
		return false
	}
	return t.statsLike(g.s)
}

// statsLike reports whether the statistics of the template's tables would still cost its
// plan the same (see statsGen.costsLike).
func (t *planTemplate) statsLike(s *Store) bool {
	for i, tbl := range t.tables {
		if !t.statsGens[i].costsLike(s.stats.generation(tbl)) {
			return false
		}
	}
	return true
}
