package sqlstore

import (
	"fmt"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// Dates and times read as strings.
//
// A DATE is a time.Time in GMS, and its string functions convert it as a DATETIME:
// CONCAT(d), CAST(d AS CHAR), GROUP_CONCAT(d) and REPLACE(d, '-', '') gave
// '2024-01-31 00:00:00', LENGTH(d) 19; a TIME could not be converted at all, so
// CONCAT('at ', t) failed with "incompatible conversion to SQL type". MySQL writes each as its
// type's text ('2024-01-31', '10:00:00', a DATETIME with its fractional digits). The rule
// below, run last, gives the string functions (and CAST/CONVERT to a character type) their
// date and time arguments as that text.

// textFunctions are the functions that read their arguments as strings.
var textFunctions = map[string]bool{
	"concat": true, "concat_ws": true, "group_concat": true, "length": true, "char_length": true,
	"character_length": true, "octet_length": true, "bit_length": true, "lpad": true, "rpad": true,
	"replace": true, "reverse": true, "upper": true, "ucase": true, "lower": true, "lcase": true,
	"left": true, "right": true, "substring": true, "substr": true, "mid": true,
	"substring_index": true, "locate": true, "instr": true, "insert": true, "repeat": true,
	"hex": true, "md5": true, "sha1": true, "sha": true, "sha2": true, "crc32": true,
	"to_base64": true, "trim": true, "ltrim": true, "rtrim": true, "quote": true,
	"regexp_replace": true, "regexp_substr": true, "regexp_instr": true, "regexp_like": true,
}

// installTemporalTextRule adds the rule to the rules GMS runs last.
func installTemporalTextRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleTemporalText, Apply: wrapTemporalText})
}

// wrapTemporalText wraps the date and time arguments of string functions in asText.
func wrapTemporalText(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if !readsText(e) {
			return e, transform.SameTree, nil
		}
		children := e.Children()
		var out []sql.Expression
		for i, c := range children {
			if _, done := c.(*asText); done || !isTemporal(c.Type()) {
				continue
			}
			if out == nil {
				out = append([]sql.Expression(nil), children...)
			}
			out[i] = &asText{arg: c}
		}
		if out == nil {
			return e, transform.SameTree, nil
		}
		ne, err := e.WithChildren(out...)
		if err != nil {
			return e, transform.SameTree, nil // leave GMS's expression as it was
		}
		return ne, transform.NewTree, nil
	})
}

// readsText reports whether e reads its arguments as strings.
func readsText(e sql.Expression) bool {
	if c, ok := e.(*expression.Convert); ok {
		return types.IsText(c.Type())
	}
	f, ok := e.(sql.FunctionExpression)
	return ok && textFunctions[strings.ToLower(f.FunctionName())]
}

// isTemporal reports whether t is a DATE, DATETIME, TIMESTAMP or TIME.
func isTemporal(t sql.Type) bool { return types.IsTime(t) || types.IsTimespan(t) }

// asText is a date or time as MySQL writes it.
type asText struct{ arg sql.Expression }

var _ sql.CollationCoercible = (*asText)(nil)

func (t *asText) Resolved() bool             { return t.arg.Resolved() }
func (t *asText) IsNullable() bool           { return t.arg.IsNullable() }
func (t *asText) Children() []sql.Expression { return []sql.Expression{t.arg} }
func (t *asText) String() string             { return t.arg.String() }

// Type implements sql.Expression: a string as long as the value's text can be.
func (t *asText) Type() sql.Type {
	return types.MustCreateString(types.LongText.Type(), 64, sql.Collation_Default)
}

// CollationCoercibility implements sql.CollationCoercible: a date in a string context is
// coerced as a number is (MySQL's DERIVATION_NUMERIC), in the connection's collation.
func (t *asText) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return ctx.GetCollation(), 5
}

// WithChildren implements sql.Expression.
func (t *asText) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(t, len(children), 1)
	}
	return &asText{arg: children[0]}, nil
}

// Eval implements sql.Expression.
func (t *asText) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := t.arg.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	sv, err := t.arg.Type().SQL(ctx, nil, v)
	if err != nil {
		return nil, fmt.Errorf("%s as text: %w", t.arg, err)
	}
	return sv.ToString(), nil
}
