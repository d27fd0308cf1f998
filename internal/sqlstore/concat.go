package sqlstore

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// CONCAT and CONCAT_WS typed in their arguments' collation (fixedfuncs.go).

// collatedConcat is CONCAT or CONCAT_WS typed in its arguments' collation.
type collatedConcat struct {
	sql.Expression
	typ derived[sql.Type]
}

var _ sql.FunctionExpression = (*collatedConcat)(nil)

// Type implements sql.Expression.
func (c *collatedConcat) Type() sql.Type {
	return c.typ.get(c.Expression.Children(), c.collatedType)
}

// collatedType is GMS's type of the function in the collation of its arguments.
func (c *collatedConcat) collatedType() sql.Type {
	t := c.Expression.Type()
	coll, coer := c.Expression.(sql.CollationCoercible).CollationCoercibility(sql.NewEmptyContext())
	st, ok := t.(sql.StringType)
	if !ok || coer >= 6 || coll == sql.Collation_Unspecified || coll == sql.Collation_binary || coll == st.Collation() {
		return t
	}
	if coll.CharacterSet() != st.Collation().CharacterSet() {
		return t // another character set: the values are not in it
	}
	return types.MustCreateString(st.Type(), st.MaxCharacterLength(), coll)
}

// WithChildren implements sql.Expression.
func (c *collatedConcat) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := c.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return &collatedConcat{Expression: e}, nil
}

// FunctionName implements sql.FunctionExpression.
func (c *collatedConcat) FunctionName() string {
	return c.Expression.(sql.FunctionExpression).FunctionName()
}

// Description implements sql.FunctionExpression.
func (c *collatedConcat) Description() string {
	return c.Expression.(sql.FunctionExpression).Description()
}
