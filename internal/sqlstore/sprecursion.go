package sqlstore

import (
	"fmt"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/rowexec"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
)

// Recursive stored procedures.
//
// GMS runs a CALL inside a procedure through the engine again, on the same goroutine, and
// does not enforce max_sp_recursion_depth: a procedure that calls itself recurses until the
// Go stack overflows. recursionGuard is an exec builder override that counts, per session,
// the invocations of each procedure in progress (a nested CALL is built, and so runs,
// while the outer one is being built) and refuses one beyond max_sp_recursion_depth with
// MySQL's error 1456.

// recursionGuard implements sql.NodeExecBuilder for plan.Call nodes; it returns no iterator
// for other nodes, which GMS's builder then builds itself.
// There is one for the process (sessions are told apart by identity, so several engines can
// share it): installExecGuards (privileges.go) chains it into every engine's exec builder.
type recursionGuard struct {
	mu     sync.Mutex
	active map[sql.Session]map[string]int // session -> db.procedure -> invocations in progress
}

var procRecursion = &recursionGuard{active: map[sql.Session]map[string]int{}}

// execOverrides chains exec builder overrides: the first one that returns an iterator or an
// error decides; when none does, GMS builds the node.
type execOverrides []sql.NodeExecBuilder

// Build implements sql.NodeExecBuilder.
func (o execOverrides) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	for _, b := range o {
		if iter, err := b.Build(ctx, n, row); iter != nil || err != nil {
			return iter, err
		}
	}
	return nil, nil
}

// Build implements sql.NodeExecBuilder.
func (g *recursionGuard) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	call, ok := n.(*plan.Call)
	if !ok {
		return nil, nil
	}
	limit := int64(0)
	if v, err := ctx.GetSessionVariable(ctx, "max_sp_recursion_depth"); err == nil {
		if i, ok := types.CoalesceInt(v); ok {
			limit = int64(i)
		}
	}
	key := strings.ToLower(call.Name)
	if db := call.Database(); db != nil {
		key = strings.ToLower(db.Name()) + "." + key
	}
	id := ctx.Session
	g.mu.Lock()
	byProc := g.active[id]
	if int64(byProc[key]) > limit {
		g.mu.Unlock()
		return nil, mysql.NewSQLError(1456, mysql.SSUnknownSQLState,
			"Recursive limit %d (as set by the max_sp_recursion_depth variable) was exceeded for routine %s", limit, call.Name)
	}
	if byProc == nil {
		byProc = map[string]int{}
		g.active[id] = byProc
	}
	byProc[key]++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if byProc[key]--; byProc[key] == 0 {
			delete(byProc, key)
			if len(byProc) == 0 {
				delete(g.active, id)
			}
		}
		g.mu.Unlock()
	}()
	iter, err := rowexec.DefaultBuilder.Build(ctx, call, row)
	if err != nil {
		return nil, err
	}
	if iter == nil {
		return nil, fmt.Errorf("sqlstore: no iterator for CALL %s", call.Name)
	}
	return iter, nil
}
