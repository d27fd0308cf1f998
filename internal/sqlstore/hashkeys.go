package sqlstore

import (
	"bytes"
	"fmt"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Hash joins on strings in their collation.
//
// GMS's hash join files the inner rows under the value of their join key and probes with the
// outer row's (plan.HashLookup.GetHashKey): a string is its own key, a tuple of them hashed
// by their text. So under the default utf8mb4_0900_ai_ci, `a.y = b.y` with 'a' on one side
// and 'A' on the other matched in a lookup or nested-loop join and not in a hash join, which
// GMS picks for larger tables without a usable index: the same query gave fewer rows as the
// tables grew. A rule run last wraps each pair of string keys of one collation in
// collationKey, whose value is the string's weight string in that collation (what the
// collation compares), so that equal strings file under one key. The join's condition is
// still checked on every pair the lookup finds.

func installHashKeyRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleHashKeys, Apply: collatedHashKeys})
}

// collatedHashKeys wraps the string keys of the plan's hash lookups in collationKey.
func collatedHashKeys(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		h, ok := n.(*plan.HashLookup)
		if !ok {
			return n, transform.SameTree, nil
		}
		right, left := keyParts(h.RightEntryKey), keyParts(h.LeftProbeKey)
		if len(right) != len(left) {
			return n, transform.SameTree, nil
		}
		changed := false
		for i := range right {
			coll, ok := sameStringCollation(right[i], left[i])
			if !ok {
				continue
			}
			right[i], left[i] = &collationKey{Child: right[i], coll: coll}, &collationKey{Child: left[i], coll: coll}
			changed = true
		}
		if !changed {
			return n, transform.SameTree, nil
		}
		nh, err := h.WithExpressions(keyOf(h.RightEntryKey, right), keyOf(h.LeftProbeKey, left))
		if err != nil {
			return nil, transform.SameTree, err
		}
		return nh, transform.NewTree, nil
	})
}

// keyParts returns a copy of a hash key's expressions: a tuple's elements, or the key.
func keyParts(e sql.Expression) []sql.Expression {
	if t, ok := e.(expression.Tuple); ok {
		return append([]sql.Expression(nil), t...)
	}
	return []sql.Expression{e}
}

// keyOf is a key of the form of old made of parts.
func keyOf(old sql.Expression, parts []sql.Expression) sql.Expression {
	if _, ok := old.(expression.Tuple); ok {
		return expression.NewTuple(parts...)
	}
	return parts[0]
}

// sameStringCollation returns the collation of two keys that are both strings in one
// collation (not yet wrapped). Keys of other types, or of two collations, are left as they
// are.
func sameStringCollation(a, b sql.Expression) (sql.CollationID, bool) {
	if _, done := a.(*collationKey); done {
		return 0, false
	}
	sa, ok := a.Type().(sql.StringType)
	if !ok || types.IsBinaryType(sa) {
		return 0, false
	}
	sb, ok := b.Type().(sql.StringType)
	if !ok || types.IsBinaryType(sb) || sa.Collation() != sb.Collation() {
		return 0, false
	}
	return sa.Collation(), true
}

// collationKey is a string's weight string in a collation, as a hash join's key: equal in the
// collation, equal keys. NULL stays NULL.
type collationKey struct {
	Child sql.Expression
	coll  sql.CollationID
}

var _ sql.Expression = (*collationKey)(nil)

// Resolved implements sql.Expression.
func (k *collationKey) Resolved() bool { return k.Child.Resolved() }

// IsNullable implements sql.Expression.
func (k *collationKey) IsNullable() bool { return k.Child.IsNullable() }

// Type implements sql.Expression: bytes, which the hash lookup's conversion keeps as they are.
func (k *collationKey) Type() sql.Type { return types.LongBlob }

// Children implements sql.Expression.
func (k *collationKey) Children() []sql.Expression { return []sql.Expression{k.Child} }

// String implements sql.Expression: the key as EXPLAIN shows it.
func (k *collationKey) String() string { return k.Child.String() }

// WithChildren implements sql.Expression.
func (k *collationKey) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(k, len(children), 1)
	}
	return &collationKey{Child: children[0], coll: k.coll}, nil
}

// Eval implements sql.Expression.
func (k *collationKey) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := k.Child.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	st, ok := k.Child.Type().(sql.StringType)
	if !ok {
		return nil, fmt.Errorf("sqlstore: collation key of a %s", k.Child.Type())
	}
	s, err := types.ConvertToString(ctx, v, st, nil)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := k.coll.WriteWeightString(&b, s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
