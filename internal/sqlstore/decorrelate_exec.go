package sqlstore

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// The grouped form of a correlated aggregate at execution (see decorrelate.go): the
// aggLookup expression, its per-execution state and grouped pass, and the exec override that
// binds it to an execution.

// aggLookup is a correlated scalar aggregate subquery with its grouped form (see above).
type aggLookup struct {
	sub     *plan.Subquery // the original, evaluated per row
	agg     sql.Aggregation
	grouped sql.Node // agg and the inner keys, grouped by the inner keys
	keys    []corrKey
	b       sql.NodeExecBuilder
	d       *decorrelator
	st      *aggLookupState // nil in the plan; fresh in the copy built for an execution
}

// aggLookupState is what one execution learned.
type aggLookupState struct {
	mu      sync.Mutex
	rows    int            // outer rows evaluated before the pass
	spent   time.Duration  // time their evaluation took
	perRow  bool           // evaluate per row for the rest of the execution
	groups  map[string]any // the grouped pass's aggregate by key
	empty   any            // the aggregate of no rows
	emptyOK bool
}

var (
	_ sql.Expression         = (*aggLookup)(nil)
	_ sql.CollationCoercible = (*aggLookup)(nil)
)

// Resolved implements sql.Expression.
func (l *aggLookup) Resolved() bool { return l.sub.Resolved() }

// Type implements sql.Expression.
func (l *aggLookup) Type() sql.Type { return l.sub.Type() }

// IsNullable implements sql.Expression.
func (l *aggLookup) IsNullable() bool { return true }

// Children implements sql.Expression: the original subquery.
func (l *aggLookup) Children() []sql.Expression { return []sql.Expression{l.sub} }

// WithChildren implements sql.Expression.
func (l *aggLookup) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(l, len(children), 1)
	}
	if children[0] != sql.Expression(l.sub) {
		// The subquery was changed: the grouped form may no longer be its own.
		return children[0], nil
	}
	return l, nil
}

// CollationCoercibility implements sql.CollationCoercible.
func (l *aggLookup) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return l.sub.CollationCoercibility(ctx)
}

func (l *aggLookup) keyText() string {
	in := make([]string, len(l.keys))
	out := make([]string, len(l.keys))
	for i, k := range l.keys {
		in[i], out[i] = k.inner.String(), k.outer.String()
	}
	return fmt.Sprintf("(%s) = (%s)", strings.Join(in, ", "), strings.Join(out, ", "))
}

// String implements sql.Expression.
func (l *aggLookup) String() string {
	return fmt.Sprintf("GroupedSubquery(by %s)\n%s", l.keyText(), l.sub.String())
}

// DebugString implements sql.DebugStringer.
func (l *aggLookup) DebugString() string {
	return fmt.Sprintf("GroupedSubquery(by %s)\n%s", l.keyText(), sql.DebugString(l.sub))
}

// bound returns a copy of l with fresh state, for one execution.
func (l *aggLookup) bound() *aggLookup {
	nl := *l
	nl.st = &aggLookupState{}
	return &nl
}

// Eval implements sql.Expression.
func (l *aggLookup) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	st := l.st
	if st == nil {
		return l.sub.Eval(ctx, row)
	}
	st.mu.Lock()
	if st.groups == nil {
		if st.perRow {
			st.mu.Unlock()
			return l.sub.Eval(ctx, row)
		}
		if !st.passDue() {
			st.rows++
			st.mu.Unlock()
			start := time.Now()
			v, err := l.sub.Eval(ctx, row)
			st.mu.Lock()
			st.spent += time.Since(start)
			st.mu.Unlock()
			return v, err
		}
		if !l.groupedPass(ctx, row) {
			st.mu.Unlock()
			return l.sub.Eval(ctx, row)
		}
	}
	defer st.mu.Unlock()
	key := make([]byte, 0, 8*len(l.keys))
	for _, k := range l.keys {
		v, err := k.outer.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return l.emptyValue(ctx)
		}
		var ok bool
		if key, ok = appendIntKey(key, v, k.signed); !ok {
			return l.sub.Eval(ctx, row) // not an integer after all: the original answer
		}
	}
	if v, ok := st.groups[string(key)]; ok {
		return v, nil
	}
	return l.emptyValue(ctx)
}

// passDue reports whether the grouped pass is due (see adaptiveRows). The caller holds mu.
func (st *aggLookupState) passDue() bool {
	return st.rows >= adaptiveRows || (st.rows >= adaptiveMinRows && st.spent >= adaptiveTime)
}

// emptyValue is the aggregate of no rows, from GMS's own buffer. The caller holds st.mu.
func (l *aggLookup) emptyValue(ctx *sql.Context) (any, error) {
	st := l.st
	if !st.emptyOK {
		buf, err := l.agg.NewBuffer()
		if err != nil {
			return nil, err
		}
		v, err := buf.Eval(ctx)
		buf.Dispose()
		if err != nil {
			return nil, err
		}
		st.empty, st.emptyOK = v, true
	}
	return st.empty, nil
}

// groupedPass runs the grouped query and fills st.groups; false (and per-row evaluation from
// then on) if it fails, has too many groups or keys that are not integers. The caller holds
// st.mu; row is the current outer row, which the grouped query does not read but is built
// with, as GMS builds a subquery.
func (l *aggLookup) groupedPass(ctx *sql.Context, row sql.Row) bool {
	st := l.st
	st.perRow = true
	// Columns below len(row) are the outer row's, the rest the subquery's own: the grouped
	// query must read none of the former, the keys' outer sides only those.
	width := len(row)
	for _, k := range l.keys {
		if !fieldsWithin(k.outer, 0, width) {
			return false
		}
	}
	if !nodeFieldsFrom(l.grouped, width) {
		return false
	}
	l.d.passes.Add(1)
	groups, err := l.collect(ctx, row)
	if err != nil || groups == nil {
		l.d.abandoned.Add(1)
		return false
	}
	st.groups, st.perRow = groups, false
	return true
}

func (l *aggLookup) collect(ctx *sql.Context, row sql.Row) (map[string]any, error) {
	q, _, err := transform.Node(l.grouped, plan.PrependRowInPlan(row, false))
	if err != nil {
		return nil, err
	}
	iter, err := l.b.Build(ctx, q, row)
	if err != nil {
		return nil, err
	}
	defer iter.Close(ctx)
	n := 1 + len(l.keys)
	groups := map[string]any{}
	key := make([]byte, 0, 8*len(l.keys))
	for {
		r, err := iter.Next(ctx)
		if err == io.EOF {
			return groups, nil
		}
		if err != nil {
			return nil, err
		}
		if len(r) < n {
			return nil, fmt.Errorf("grouped subquery: row of %d values", len(r))
		}
		vals := r[len(r)-n:]
		key = key[:0]
		null := false
		for i, k := range l.keys {
			v := vals[1+i]
			if v == nil {
				null = true
				break
			}
			var ok bool
			if key, ok = appendIntKey(key, v, k.signed); !ok {
				return nil, nil
			}
		}
		if null {
			continue
		}
		if int64(len(groups)) >= l.d.maxGroups.Load() {
			return nil, nil
		}
		groups[string(key)] = vals[0]
	}
}

// appendIntKey appends integer v to key as 8 bytes: its two's complement if signed, else its
// value. false if v is not an integer of that kind.
func appendIntKey(key []byte, v any, signed bool) ([]byte, bool) {
	var u uint64
	switch x := v.(type) {
	case int8:
		u = uint64(int64(x))
	case int16:
		u = uint64(int64(x))
	case int32:
		u = uint64(int64(x))
	case int64:
		u = uint64(x)
	case int:
		u = uint64(int64(x))
	case uint8:
		u = uint64(x)
	case uint16:
		u = uint64(x)
	case uint32:
		u = uint64(x)
	case uint64:
		u = x
	case uint:
		u = uint64(x)
	default:
		return key, false
	}
	// A signed value must not be read as an unsigned one, or the reverse.
	switch v.(type) {
	case int8, int16, int32, int64, int:
		if !signed && int64(u) < 0 {
			return key, false
		}
	default:
		if signed && int64(u) < 0 {
			return key, false
		}
	}
	return binary.BigEndian.AppendUint64(key, u), true
}

// fieldsWithin reports whether every column e reads is at an index in [lo, hi).
func fieldsWithin(e sql.Expression, lo, hi int) bool {
	return !transform.InspectExpr(e, func(e sql.Expression) bool {
		gf, ok := e.(*expression.GetField)
		return ok && (gf.Index() < lo || gf.Index() >= hi)
	})
}

// nodeFieldsFrom reports whether every column n's expressions read is at index lo or after.
func nodeFieldsFrom(n sql.Node, lo int) bool {
	ok := true
	transform.Inspect(n, func(n sql.Node) bool {
		if ex, isEx := n.(sql.Expressioner); isEx && ok {
			for _, e := range ex.Expressions() {
				if !fieldsWithin(e, lo, int(^uint(0)>>1)) {
					ok = false
				}
			}
		}
		return ok
	})
	return ok
}

// aggLookupBinder is the exec override that binds the aggLookups of a Project or Filter to
// fresh state each time the node is built (see above).
type aggLookupBinder struct{}

// Build implements sql.NodeExecBuilder.
func (aggLookupBinder) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	switch n.(type) {
	case *plan.Project, *plan.Filter:
	default:
		return nil, nil
	}
	ex := n.(sql.Expressioner)
	exprs := ex.Expressions()
	unbound := false
	for _, e := range exprs {
		unbound = unbound || transform.InspectExpr(e, func(e sql.Expression) bool {
			l, ok := e.(*aggLookup)
			return ok && l.st == nil
		})
	}
	if !unbound {
		return nil, nil
	}
	var b sql.NodeExecBuilder
	out := make([]sql.Expression, len(exprs))
	for i, e := range exprs {
		ne, _, err := transform.Expr(e, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
			l, ok := e.(*aggLookup)
			if !ok || l.st != nil {
				return e, transform.SameTree, nil
			}
			b = l.b
			return l.bound(), transform.NewTree, nil
		})
		if err != nil {
			return nil, err
		}
		out[i] = ne
	}
	if b == nil {
		return nil, nil
	}
	nn, err := ex.WithExpressions(out...)
	if err != nil {
		return nil, err
	}
	return b.Build(ctx, nn, row)
}
