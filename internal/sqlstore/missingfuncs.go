package sqlstore

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/shopspring/decimal"
)

// MySQL 8.0 built-in functions GMS lacks.
//
// GMS answers "function: 'x' not found" for TRUNCATE, OCT, INSERT, MAKEDATE, MAKETIME,
// SEC_TO_TIME, ADDTIME, SUBTIME, PERIOD_ADD, PERIOD_DIFF, TO_SECONDS, UTC_DATE, UTC_TIME,
// UUID_SHORT, EXPORT_SET and MAKE_SET. The store serves them (Store.Function) as MySQL
// computes them (sql/item_func.cc, item_strfunc.cc, item_timefunc.cc): a NULL argument gives
// NULL (MAKE_SET only skips a NULL string), a string read as a number is read as far as it is
// one (warning 1292: '12abc' is 12), and the result has MySQL's type.
//
// One difference remains: GMS has a single TIME type, TIME(6), so a TIME result with
// fractional seconds (SEC_TO_TIME(1.5), MAKETIME(1, 2, 3.5)) shows six digits where MySQL shows
// as many as the argument has.

// builtinSpec describes one of the functions.
type builtinSpec struct {
	name             string // lower case
	minArgs, maxArgs int
	desc             string
	typ              func(args []sql.Expression) sql.Type
	eval             func(ctx *sql.Context, c *builtinCall, vals []any) (any, error)
	check            func(args []sql.Expression) error // refuses a call when it is built, if set
	nullArgs         bool                              // eval sees NULL arguments; otherwise one gives NULL
	notNull          bool                              // never NULL
	volatile         bool                              // not deterministic: never folded nor cached
}

// builtinCall is a call of one of the functions.
type builtinCall struct {
	spec *builtinSpec
	args []sql.Expression
	typ  *lazyType
}

// lazyType is a call's result type, worked out once: it may evaluate constant arguments.
type lazyType struct {
	once sync.Once
	t    sql.Type
}

var (
	_ sql.FunctionExpression         = (*builtinCall)(nil)
	_ sql.CollationCoercible         = (*builtinCall)(nil)
	_ sql.NonDeterministicExpression = (*builtinCall)(nil)
)

// MySQL error and warning numbers these functions use that vitess does not name.
const (
	erWrongParamCountToNativeFct  = 1582
	erTooBigPrecision             = 1426
	erWarnAllowedPacketOverflowed = 1301
	erDatetimeFunctionOverflow    = 1441
)

// missingFunction is the sql.Function the store serves for name, if it is a MySQL built-in
// function GMS lacks.
func missingFunction(name string, uuids *uuidShortSeq) (sql.Function, bool) {
	spec, ok := builtinSpecs[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	if spec.name == "uuid_short" {
		s := *spec
		s.eval = uuids.eval
		spec = &s
	}
	return sql.FunctionN{Name: spec.name, Fn: func(args ...sql.Expression) (sql.Expression, error) {
		if len(args) < spec.minArgs || len(args) > spec.maxArgs {
			return nil, mysql.NewSQLError(erWrongParamCountToNativeFct, mysql.SSClientError,
				"Incorrect parameter count in the call to native function '%s'", strings.ToUpper(spec.name))
		}
		if spec.check != nil {
			if err := spec.check(args); err != nil {
				return nil, err
			}
		}
		return newBuiltinCall(spec, args), nil
	}}, true
}

// builtinSpecs are the functions by name.
var builtinSpecs = func() map[string]*builtinSpec {
	text := func([]sql.Expression) sql.Type { return types.LongText }
	fixed := func(t sql.Type) func([]sql.Expression) sql.Type {
		return func([]sql.Expression) sql.Type { return t }
	}
	specs := []*builtinSpec{
		{name: "truncate", minArgs: 2, maxArgs: 2, typ: truncateType, eval: evalTruncate,
			desc: "returns the number X truncated to D decimal places."},
		{name: "oct", minArgs: 1, maxArgs: 1, typ: text, eval: evalOct,
			desc: "returns the octal representation of the number N."},
		{name: "insert", minArgs: 4, maxArgs: 4, typ: insertType, eval: evalInsert,
			desc: "returns str with the substring of len characters at pos replaced by newstr."},
		{name: "makedate", minArgs: 2, maxArgs: 2, typ: fixed(types.Date), eval: evalMakedate,
			desc: "returns the date of day dayofyear of year."},
		{name: "maketime", minArgs: 3, maxArgs: 3, typ: fixed(types.Time), eval: evalMaketime,
			desc: "returns the time of the hour, minute and second arguments."},
		{name: "sec_to_time", minArgs: 1, maxArgs: 1, typ: fixed(types.Time), eval: evalSecToTime,
			desc: "returns the seconds argument as a TIME."},
		{name: "addtime", minArgs: 2, maxArgs: 2, typ: addTimeType, eval: addTimeEval(1),
			desc: "adds the time expr2 to the time or datetime expr1."},
		{name: "subtime", minArgs: 2, maxArgs: 2, typ: addTimeType, eval: addTimeEval(-1),
			desc: "subtracts the time expr2 from the time or datetime expr1."},
		{name: "period_add", minArgs: 2, maxArgs: 2, typ: fixed(types.Int64), eval: evalPeriodAdd,
			desc: "adds N months to the period P (YYMM or YYYYMM), as YYYYMM."},
		{name: "period_diff", minArgs: 2, maxArgs: 2, typ: fixed(types.Int64), eval: evalPeriodDiff,
			desc: "returns the number of months between the periods P1 and P2 (YYMM or YYYYMM)."},
		{name: "to_seconds", minArgs: 1, maxArgs: 1, typ: fixed(types.Int64), eval: evalToSeconds,
			desc: "returns the number of seconds from year 0 to the date or datetime expr."},
		{name: "utc_date", minArgs: 0, maxArgs: 0, typ: fixed(types.Date), eval: evalUTCDate,
			notNull: true, volatile: true, desc: "returns the current UTC date."},
		{name: "utc_time", minArgs: 0, maxArgs: 1, typ: fixed(types.Time), eval: evalUTCTime,
			check: checkUTCTime, notNull: true, volatile: true, desc: "returns the current UTC time."},
		{name: "uuid_short", minArgs: 0, maxArgs: 0, typ: fixed(types.Uint64), // eval: the store's sequence
			notNull: true, volatile: true, desc: "returns a short universal identifier, an increasing 64-bit integer."},
		{name: "export_set", minArgs: 3, maxArgs: 5, typ: text, eval: evalExportSet,
			desc: "returns on for each bit set in bits and off for each bit not set, joined by separator."},
		{name: "make_set", minArgs: 2, maxArgs: math.MaxInt, typ: text, eval: evalMakeSet, nullArgs: true,
			desc: "returns the strings whose bits are set in bits, joined by commas."},
	}
	m := make(map[string]*builtinSpec, len(specs))
	for _, s := range specs {
		m[s.name] = s
	}
	return m
}()

// newBuiltinCall is a call of spec with args.
func newBuiltinCall(spec *builtinSpec, args []sql.Expression) *builtinCall {
	return &builtinCall{spec: spec, args: args, typ: &lazyType{}}
}

// Type implements sql.Expression.
func (c *builtinCall) Type() sql.Type {
	c.typ.once.Do(func() { c.typ.t = c.spec.typ(c.args) })
	return c.typ.t
}

// IsNullable implements sql.Expression.
func (c *builtinCall) IsNullable() bool { return !c.spec.notNull }

// IsNonDeterministic implements sql.NonDeterministicExpression.
func (c *builtinCall) IsNonDeterministic() bool { return c.spec.volatile }

// Resolved implements sql.Expression.
func (c *builtinCall) Resolved() bool {
	for _, a := range c.args {
		if !a.Resolved() {
			return false
		}
	}
	return true
}

// Children implements sql.Expression.
func (c *builtinCall) Children() []sql.Expression { return c.args }

// WithChildren implements sql.Expression.
func (c *builtinCall) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) < c.spec.minArgs || len(children) > c.spec.maxArgs {
		return nil, sql.ErrInvalidChildrenNumber.New(c, len(children), len(c.args))
	}
	return newBuiltinCall(c.spec, children), nil
}

// String implements sql.Expression.
func (c *builtinCall) String() string {
	parts := make([]string, len(c.args))
	for i, a := range c.args {
		parts[i] = a.String()
	}
	return fmt.Sprintf("%s(%s)", strings.ToUpper(c.spec.name), strings.Join(parts, ","))
}

// FunctionName implements sql.FunctionExpression.
func (c *builtinCall) FunctionName() string { return c.spec.name }

// Description implements sql.FunctionExpression.
func (c *builtinCall) Description() string { return c.spec.desc }

// CollationCoercibility implements sql.CollationCoercible: a string result takes the
// collation of its string arguments, as GMS's CONCAT does; anything else is a number's.
func (c *builtinCall) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	if !types.IsText(c.Type()) {
		return sql.Collation_binary, 5
	}
	collation, coercibility, found := ctx.GetCollation(), byte(4), false
	for _, a := range c.args {
		if !types.IsText(a.Type()) {
			continue
		}
		ac, aco := sql.GetCoercibility(ctx, a)
		if !found {
			collation, coercibility, found = ac, aco, true
		} else {
			collation, coercibility = sql.ResolveCoercibility(collation, coercibility, ac, aco)
		}
	}
	return collation, coercibility
}

// Eval implements sql.Expression.
func (c *builtinCall) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	vals := make([]any, len(c.args))
	for i, a := range c.args {
		v, err := a.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		if v == nil && !c.spec.nullArgs {
			return nil, nil
		}
		vals[i] = v
	}
	return c.spec.eval(ctx, c, vals)
}

// Reading arguments as MySQL's Item::val_int, val_real, val_decimal and val_str do.

// numberPrefix matches the start of a string that MySQL reads as a number.
var numberPrefix = regexp.MustCompile(`^[ \t\r\n]*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?`)

// textOf is v as a string, if it is one.
func textOf(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

// numericText is the part of s MySQL reads as a number of type what ("0" when none), with
// warning 1292 when that is not all of s.
func numericText(ctx *sql.Context, s, what string) string {
	p := numberPrefix.FindString(s)
	if strings.TrimSpace(p) != strings.TrimSpace(s) {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect %s value: '%s'", what, s)
	}
	if p = strings.TrimSpace(p); p == "" {
		return "0"
	}
	return p
}

// valInt is v as a signed integer: numbers are rounded and clipped to the BIGINT range.
func valInt(ctx *sql.Context, v any) int64 {
	if s, ok := textOf(v); ok {
		v = numericText(ctx, s, "INTEGER")
	}
	i, _, err := types.Int64.Convert(ctx, v)
	if err != nil {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect INTEGER value: '%v'", v)
		return 0
	}
	return i.(int64)
}

// valUint is v as the 64 bits of an integer: -1 has all bits set.
func valUint(ctx *sql.Context, v any) uint64 {
	if u, ok := v.(uint64); ok {
		return u
	}
	return uint64(valInt(ctx, v))
}

// valReal is v as a DOUBLE.
func valReal(ctx *sql.Context, v any) float64 {
	if s, ok := textOf(v); ok {
		v = numericText(ctx, s, "DOUBLE")
	}
	f, _, err := types.Float64.Convert(ctx, v)
	if err != nil {
		ctx.Warn(mysql.ERTruncatedWrongValue, "Truncated incorrect DOUBLE value: '%v'", v)
		return 0
	}
	return f.(float64)
}

// valDecimal is v as an exact number.
func valDecimal(ctx *sql.Context, v any) decimal.Decimal {
	switch x := v.(type) {
	case decimal.Decimal:
		return x
	case float64:
		return decimalFromFloat(x)
	case float32:
		return decimalFromFloat(float64(x))
	case string, []byte:
		s, _ := textOf(x)
		d, err := decimal.NewFromString(numericText(ctx, s, "DECIMAL"))
		if err != nil {
			return decimal.Zero
		}
		return d
	}
	d, _, err := types.InternalDecimalType.Convert(ctx, v)
	if dd, ok := d.(decimal.Decimal); ok && err == nil {
		return dd
	}
	return decimal.NewFromInt(valInt(ctx, v))
}

// decimalFromFloat is f as an exact number; an infinity is one past any DECIMAL's range.
func decimalFromFloat(f float64) decimal.Decimal {
	switch {
	case math.IsNaN(f):
		return decimal.Zero
	case math.IsInf(f, 0):
		return decimal.New(int64(math.Copysign(1, f)), 400)
	}
	return decimal.NewFromFloat(f)
}

// valStr is v as a string.
func valStr(ctx *sql.Context, v any) (string, error) {
	if s, ok := textOf(v); ok {
		return s, nil
	}
	s, _, err := types.LongText.Convert(ctx, v)
	if err != nil {
		return "", err
	}
	str, _ := textOf(s)
	return str, nil
}

// constArg is e's value if e is a constant: a literal or an expression over literals (-2).
func constArg(e sql.Expression) (any, bool) {
	notConst := transform.InspectExpr(e, func(x sql.Expression) bool {
		if _, ok := x.(*expression.Literal); ok {
			return false
		}
		if nd, ok := x.(sql.NonDeterministicExpression); ok && nd.IsNonDeterministic() {
			return true
		}
		return len(x.Children()) == 0 // a column, a parameter, a subquery
	})
	if notConst {
		return nil, false
	}
	v, err := e.Eval(sql.NewEmptyContext(), nil)
	if err != nil {
		return nil, false
	}
	return v, true
}

// maxAllowedPacket is the session's max_allowed_packet, the longest string a function returns.
func maxAllowedPacket(ctx *sql.Context) int64 {
	if v, err := ctx.GetSessionVariable(ctx, "max_allowed_packet"); err == nil {
		if n, _, err := types.Int64.Convert(ctx, v); err == nil {
			return n.(int64)
		}
	}
	return 64 << 20
}

// tooLong says whether a result of n bytes is over max_allowed_packet, with MySQL's warning.
func tooLong(ctx *sql.Context, c *builtinCall, n int64) bool {
	limit := maxAllowedPacket(ctx)
	if n <= limit {
		return false
	}
	ctx.Warn(erWarnAllowedPacketOverflowed, "Result of %s() was larger than max_allowed_packet (%d) - truncated", c.spec.name, limit)
	return true
}

// UUID_SHORT().

// uuidShortSeq is UUID_SHORT's sequence. MySQL starts it at
// (server_id & 255) << 56 + (server start time in seconds) << 24 and adds one per call.
type uuidShortSeq struct{ next atomic.Uint64 }

// newUUIDShortSeq is the sequence of a server with that id, started at start.
func newUUIDShortSeq(serverID uint64, start time.Time) *uuidShortSeq {
	s := &uuidShortSeq{}
	s.next.Store((serverID&255)<<56 + uint64(start.Unix())<<24)
	return s
}

// eval is UUID_SHORT: the sequence's next value.
func (s *uuidShortSeq) eval(*sql.Context, *builtinCall, []any) (any, error) {
	return s.next.Add(1) - 1, nil
}
