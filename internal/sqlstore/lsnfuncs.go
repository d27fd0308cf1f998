package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"

	"strata/internal/page"
)

// Log positions as SQL functions: what the proxy asks the compute nodes to route reads to a
// read-only node without losing the session's own writes (docs/proxy.md).
//
//   - STRATA_LAST_COMMIT_LSN(): the end of the last commit made on this connection (0: none).
//   - STRATA_DURABLE_LSN(): the log's durable end; on the writer it covers every acknowledged
//     commit; on a read-only node it is the read view.
//   - STRATA_APPLIED_LSN(): the snapshot a new statement reads (a read-only node's view).
//   - STRATA_WAIT_LSN(lsn, timeout_seconds): waits until STRATA_APPLIED_LSN() ≥ lsn or the
//     timeout passes, then returns STRATA_APPLIED_LSN(); a result below lsn means it timed out.
//
// They are not deterministic: nothing folds or caches them.

// maxWaitLSN bounds STRATA_WAIT_LSN's timeout.
const maxWaitLSN = time.Minute

// lsnFunc is one of the functions above.
type lsnFunc struct {
	name string
	args []sql.Expression
	s    *Store
}

var (
	_ sql.FunctionExpression         = (*lsnFunc)(nil)
	_ sql.NonDeterministicExpression = (*lsnFunc)(nil)
)

// installLSNFuncs registers the functions.
func (s *Store) installLSNFuncs(eng *sqle.Engine) {
	for name, n := range map[string]int{"strata_last_commit_lsn": 0, "strata_durable_lsn": 0, "strata_applied_lsn": 0, "strata_wait_lsn": 2} {
		eng.Analyzer.Catalog.RegisterFunction(nil, sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			if len(args) != n {
				return nil, sql.ErrInvalidArgumentNumber.New(strings.ToUpper(name), n, len(args))
			}
			return &lsnFunc{name: name, args: args, s: s}, nil
		}})
	}
}

// Resolved implements sql.Expression.
func (f *lsnFunc) Resolved() bool {
	for _, a := range f.args {
		if !a.Resolved() {
			return false
		}
	}
	return true
}

// String implements sql.Expression.
func (f *lsnFunc) String() string {
	parts := make([]string, len(f.args))
	for i, a := range f.args {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%s(%s)", strings.ToUpper(f.name), strings.Join(parts, ", "))
}

// Type implements sql.Expression.
func (f *lsnFunc) Type() sql.Type { return types.Uint64 }

// IsNullable implements sql.Expression.
func (f *lsnFunc) IsNullable() bool { return false }

// IsNonDeterministic implements sql.NonDeterministicExpression.
func (f *lsnFunc) IsNonDeterministic() bool { return true }

// Children implements sql.Expression.
func (f *lsnFunc) Children() []sql.Expression { return f.args }

// WithChildren implements sql.Expression.
func (f *lsnFunc) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != len(f.args) {
		return nil, sql.ErrInvalidChildrenNumber.New(f, len(children), len(f.args))
	}
	return &lsnFunc{name: f.name, args: children, s: f.s}, nil
}

// FunctionName implements sql.FunctionExpression.
func (f *lsnFunc) FunctionName() string { return f.name }

// Description implements sql.FunctionExpression.
func (f *lsnFunc) Description() string { return "a log position of this node (read routing)" }

// Eval implements sql.Expression.
func (f *lsnFunc) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	st := f.s
	if sess, ok := ctx.Session.(*Session); ok {
		st = sess.store // the statement's own node, whichever engine registered the function
	}
	db := st.db
	switch f.name {
	case "strata_last_commit_lsn":
		if sess, ok := ctx.Session.(*Session); ok {
			return sess.lastCommit.Load(), nil
		}
		return uint64(0), nil
	case "strata_durable_lsn":
		return uint64(db.DurableLSN()), nil
	case "strata_applied_lsn":
		return uint64(db.VisibleLSN()), nil
	}
	lsnV, err := f.args[0].Eval(ctx, row)
	if err != nil {
		return nil, err
	}
	secV, err := f.args[1].Eval(ctx, row)
	if err != nil {
		return nil, err
	}
	if lsnV == nil || secV == nil {
		return nil, sql.ErrInvalidArgumentDetails.New("STRATA_WAIT_LSN", "NULL")
	}
	lsn, _, err := types.Uint64.Convert(ctx, lsnV)
	if err != nil {
		return nil, sql.ErrInvalidArgumentDetails.New("STRATA_WAIT_LSN", fmt.Sprint(lsnV))
	}
	sec, _, err := types.Float64.Convert(ctx, secV)
	if err != nil || sec.(float64) < 0 {
		return nil, sql.ErrInvalidArgumentDetails.New("STRATA_WAIT_LSN", fmt.Sprint(secV))
	}
	d := min(time.Duration(sec.(float64)*float64(time.Second)), maxWaitLSN)
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := db.WaitVisible(wctx, page.LSN(lsn.(uint64)))
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err() // the statement was killed or the client left
	}
	return uint64(v), nil
}
