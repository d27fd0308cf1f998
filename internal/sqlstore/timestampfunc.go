package sqlstore

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
)

// timestampOf is TIMESTAMP(expr): expr as a DATETIME. GMS's version typed its result as its
// argument's type, so TIMESTAMP of a DATE column showed the date alone ('2024-01-31' where
// MySQL shows '2024-01-31 00:00:00') and TIMESTAMP of a string compared as a string; it was
// never NULL (IsNullable) and failed on text that is no date (MySQL: NULL, warning 1292).
type timestampOf struct {
	arg sql.Expression
	typ sql.Type
}

var _ sql.FunctionExpression = (*timestampOf)(nil)

func newTimestampOf(arg sql.Expression) *timestampOf {
	return &timestampOf{arg: arg, typ: types.MustCreateDatetimeType(sqltypes.Datetime, datetimePrecision(arg))}
}

// datetimePrecision is the number of fractional digits of e read as a DATETIME: a temporal
// type's own, none for a DATE or an integer, a DECIMAL's scale, those of a constant string,
// else 6.
func datetimePrecision(e sql.Expression) int {
	t := e.Type()
	switch {
	case t.Type() == sqltypes.Date || sqltypes.IsIntegral(t.Type()):
		return 0
	case types.IsDatetimeType(t) || types.IsTimestampType(t):
		if dt, ok := t.(sql.DatetimeType); ok {
			return dt.Precision()
		}
	case types.IsDecimal(t):
		return min(int(t.(sql.DecimalType).Scale()), 6)
	case types.IsText(t):
		if v, ok := constArg(e); ok {
			if s, ok := textOf(v); ok {
				if i := strings.LastIndexByte(s, '.'); i >= 0 && strings.Count(s, ":") == 2 {
					return min(len(strings.TrimSpace(s[i+1:])), 6)
				}
				return 0
			}
		}
	}
	return 6
}

func (t *timestampOf) Resolved() bool             { return t.arg.Resolved() }
func (t *timestampOf) IsNullable() bool           { return true }
func (t *timestampOf) Type() sql.Type             { return t.typ }
func (t *timestampOf) Children() []sql.Expression { return []sql.Expression{t.arg} }
func (t *timestampOf) String() string             { return fmt.Sprintf("timestamp(%s)", t.arg) }
func (t *timestampOf) FunctionName() string       { return "timestamp" }
func (t *timestampOf) Description() string        { return "returns the argument as a DATETIME." }
func (t *timestampOf) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

// WithChildren implements sql.Expression.
func (t *timestampOf) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(t, len(children), 1)
	}
	return newTimestampOf(children[0]), nil
}

// Eval implements sql.Expression.
func (t *timestampOf) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := t.arg.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	dt, _, err := t.typ.Convert(ctx, v)
	if err != nil || dt == nil {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Incorrect datetime value: '%v'", v)
		return nil, nil
	}
	return dt, nil
}
