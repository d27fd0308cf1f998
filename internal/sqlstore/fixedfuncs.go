package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
)

// Built-in functions whose GMS versions give wrong answers, served by the store
// (Store.Function) in their place:
//
//   - GREATEST and LEAST failed on a DECIMAL ("unsupported type"), compared a DECIMAL with
//     an integer as integers, and strings by their bytes: greatestLeast compares as MySQL
//     does (Item_func_min_max): integers as integers, integers and DECIMALs as DECIMAL, any
//     DOUBLE as DOUBLE, strings (and dates beside strings, which GMS compared as the number
//     0) as strings in their collation; dates and times alone, and numbers beside strings,
//     are left to GMS;
//   - WEEK(NULL) and WEEK of an invalid date failed with "invalid year" (MySQL: NULL);
//   - STR_TO_DATE(NULL, f) failed with "invalid type: <nil>" (MySQL: NULL);
//   - TIME_TO_SEC read its argument as a DATETIME, so TIME_TO_SEC('00:01:01') failed with
//     1292 (MySQL: 61); it reads a TIME, negative or past 24 hours, and returns BIGINT;
//   - ROUND of a DOUBLE rounded halves away from zero (ROUND(2.5e0) was 3); MySQL rounds a
//     DOUBLE with rint(), to even (2), and a DECIMAL away from zero, as before; ROUND of a
//     DECIMAL to fewer digits kept the argument's scale (ROUND(12.50, 1) showed 12.50);
//   - CONCAT and CONCAT_WS were typed LONGTEXT in the default binary collation, so ORDER BY,
//     GROUP BY and DISTINCT over them compared bytes ('apple5' sorted after 'Banana-3');
//     they are typed in the collation MySQL derives from their arguments (which GMS already
//     reports as their coercibility);
//   - INSTR compared characters exactly whatever the collation (INSTR('ABC', 'b') was 0;
//     MySQL under utf8mb4_0900_ai_ci: 2) and LOCATE ignored case even under a _bin collation
//     and counted bytes, not characters (LOCATE('b', 'áb') was 3): both now compare in the
//     collation MySQL derives from their arguments and count characters;
//   - STR_TO_DATE of a number failed with "invalid type" (MySQL reads its text);
//   - TIMESTAMP took one argument only (TIMESTAMP(expr1, expr2) adds the time expr2 to
//     expr1) and typed its result as its argument (timestampfunc.go);
//   - LPAD and RPAD counted bytes, not characters, and gave '' where MySQL gives NULL
//     (pad.go);
//   - IF typed its result as its first branch and IFNULL as its first argument, so
//     IF(i > 0, 1, 1.5) gave 2 and IFNULL(n, 2.25) 2.
//
// GREATEST and LEAST are in minmax.go, ROUND in round.go, CONCAT in concat.go, INSTR and
// LOCATE in locate.go, IF, IFNULL and COALESCE in condfuncs.go. TIMESTAMPDIFF is built by GMS's planner directly, not looked up: see
// timestampdiff.go.

// fixedFunction is the sql.Function the store serves for name, if it is a MySQL built-in
// function whose GMS version gives a wrong answer.
func fixedFunction(name string) (sql.Function, bool) {
	switch name = strings.ToLower(name); name {
	case "greatest", "least":
		greatest := name == "greatest"
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			return newGreatestLeast(greatest, args)
		}}, true
	case "bit_count":
		return sql.Function1{Name: name, Fn: func(e sql.Expression) sql.Expression {
			return &bitCount{BitCount: function.NewBitCount(e).(*function.BitCount)} // bitops.go
		}}, true
	case "week":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			e, err := function.NewWeek(args...)
			if err != nil {
				return nil, err
			}
			return &nullIn{Expression: e, args: 1, invalidIsNull: true}, nil
		}}, true
	case "str_to_date":
		return sql.Function2{Name: name, Fn: func(a, b sql.Expression) sql.Expression {
			if !types.IsText(a.Type()) && !types.IsNull(a) {
				// GMS parses strings only ("invalid type: int32"); MySQL reads any value as
				// its text: STR_TO_DATE(20240131, '%Y%m%d') is 2024-01-31.
				a = expression.NewConvert(a, expression.ConvertToChar)
			}
			return &nullIn{Expression: newStrToDate(a, b), args: 2} // strtodate.go
		}}, true
	case "timestamp":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			if len(args) != 1 && len(args) != 2 {
				return nil, mysql.NewSQLError(erWrongParamCountToNativeFct, mysql.SSClientError,
					"Incorrect parameter count in the call to native function 'TIMESTAMP'")
			}
			ts := newTimestampOf(args[0])
			if len(args) == 1 {
				return ts, nil
			}
			// TIMESTAMP(expr1, expr2) adds the time expr2 to expr1 (GMS takes one argument).
			add, _ := missingFunction("addtime", nil)
			return add.NewInstance([]sql.Expression{ts, args[1]})
		}}, true
	case "time_to_sec":
		return sql.Function1{Name: name, Fn: func(e sql.Expression) sql.Expression {
			return &timeToSec{arg: e}
		}}, true
	case "round":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			r, err := function.NewRound(args...)
			if err != nil {
				return nil, err
			}
			return &doubleRound{Expression: r, args: args}, nil
		}}, true
	case "concat", "concat_ws":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			var e sql.Expression
			var err error
			if name == "concat" {
				e, err = function.NewConcat(args...)
			} else {
				e, err = function.NewConcatWithSeparator(args...)
			}
			if err != nil {
				return nil, err
			}
			return &collatedConcat{Expression: e}, nil
		}}, true
	case "if", "ifnull", "coalesce":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			return newCondValue(name, args)
		}}, true
	case "lpad", "rpad":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			return newPad(name == "lpad", args)
		}}, true
	case "instr":
		return sql.Function2{Name: name, Fn: func(str, substr sql.Expression) sql.Expression {
			return &locate{name: name, str: str, substr: substr}
		}}, true
	case "locate":
		return sql.FunctionN{Name: name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
			if len(args) < 2 || len(args) > 3 {
				return nil, sql.ErrInvalidArgumentNumber.New("LOCATE", "2 or 3", len(args))
			}
			l := &locate{name: name, substr: args[0], str: args[1]}
			if len(args) == 3 {
				l.pos = args[2]
			}
			return l, nil
		}}, true
	}
	return nil, false
}

// nullIn is a GMS function that is NULL when one of its first args arguments is, without
// evaluating it (GMS's fails on a NULL); with invalidIsNull, also when GMS finds an argument
// invalid (sql.ErrInvalidArgumentDetails), as MySQL returns NULL with a warning.
type nullIn struct {
	sql.Expression
	args          int
	invalidIsNull bool
}

var _ sql.FunctionExpression = (*nullIn)(nil)

// Eval implements sql.Expression.
func (n *nullIn) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	for i, c := range n.Expression.Children() {
		if i >= n.args {
			break
		}
		v, err := c.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, nil
		}
	}
	v, err := n.Expression.Eval(ctx, row)
	if err != nil && n.invalidIsNull && sql.ErrInvalidArgumentDetails.Is(err) {
		ctx.Warn(1292, "%s", err.Error())
		return nil, nil
	}
	return v, err
}

// IsNullable implements sql.Expression.
func (n *nullIn) IsNullable() bool { return true }

// WithChildren implements sql.Expression.
func (n *nullIn) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := n.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	return &nullIn{Expression: e, args: n.args, invalidIsNull: n.invalidIsNull}, nil
}

// FunctionName implements sql.FunctionExpression.
func (n *nullIn) FunctionName() string { return n.Expression.(sql.FunctionExpression).FunctionName() }

// Description implements sql.FunctionExpression.
func (n *nullIn) Description() string { return n.Expression.(sql.FunctionExpression).Description() }

// timeToSec is TIME_TO_SEC: the seconds of a TIME (a DATETIME's time of day).
type timeToSec struct{ arg sql.Expression }

var _ sql.FunctionExpression = (*timeToSec)(nil)

func (t *timeToSec) Resolved() bool             { return t.arg.Resolved() }
func (t *timeToSec) IsNullable() bool           { return true }
func (t *timeToSec) Type() sql.Type             { return types.Int64 }
func (t *timeToSec) Children() []sql.Expression { return []sql.Expression{t.arg} }
func (t *timeToSec) String() string             { return fmt.Sprintf("time_to_sec(%s)", t.arg) }
func (t *timeToSec) FunctionName() string       { return "time_to_sec" }
func (t *timeToSec) Description() string        { return "returns the argument converted to seconds." }
func (t *timeToSec) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

// WithChildren implements sql.Expression.
func (t *timeToSec) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(t, len(children), 1)
	}
	return &timeToSec{arg: children[0]}, nil
}

// Eval implements sql.Expression.
func (t *timeToSec) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := t.arg.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	if tm, ok := v.(time.Time); ok {
		return int64(tm.Hour()*3600 + tm.Minute()*60 + tm.Second()), nil
	}
	if d, err := types.Time.ConvertToTimeDuration(v); err == nil {
		return int64(d / time.Second), nil
	}
	if dt, _, err := types.DatetimeMaxPrecision.Convert(ctx, v); err == nil {
		if tm, ok := dt.(time.Time); ok {
			return int64(tm.Hour()*3600 + tm.Minute()*60 + tm.Second()), nil
		}
	}
	ctx.Warn(1292, "Truncated incorrect time value: '%v'", v)
	return nil, nil
}
