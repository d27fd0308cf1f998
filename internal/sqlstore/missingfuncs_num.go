package sqlstore

import (
	"math"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	"github.com/shopspring/decimal"
)

// TRUNCATE and OCT (missingfuncs.go).

// truncateType is MySQL's type for TRUNCATE(x, d) (Item_func_round::resolve_type): an
// integer gives a BIGINT (UNSIGNED for an unsigned one), a DECIMAL(p,s) with a constant d
// gives DECIMAL(p-s+d', d') where d' is d clipped to 0..30, anything else a DOUBLE. When d is
// not a constant a DECIMAL keeps its type and an integer gives a DOUBLE.
func truncateType(args []sql.Expression) sql.Type {
	t := args[0].Type()
	d, isConst := constArg(args[1])
	if !isConst {
		if types.IsDecimal(t) {
			return t
		}
		return types.Float64
	}
	if d == nil {
		if types.IsNumber(t) {
			return t
		}
		return types.Float64
	}
	switch q := t.Type(); {
	case sqltypes.IsSigned(q):
		return types.Int64
	case sqltypes.IsUnsigned(q) || q == sqltypes.Bit:
		return types.Uint64
	case types.IsDecimal(t):
		dt := t.(sql.DecimalType)
		scale := min(max(valInt(sql.NewEmptyContext(), d), 0), 30)
		precision := int64(dt.Precision()) - int64(dt.Scale()) + scale
		precision = min(max(precision, scale, 1), 65)
		return types.MustCreateDecimalType(uint8(precision), uint8(scale))
	}
	return types.Float64
}

// evalTruncate is TRUNCATE: x without its digits after the d-th past the decimal point, or,
// for a negative d, with its last -d digits before the point zeroed.
func evalTruncate(ctx *sql.Context, c *builtinCall, vals []any) (any, error) {
	d := valInt(ctx, vals[1])
	rt := c.Type()
	switch q := rt.Type(); {
	case types.IsDecimal(rt):
		scale := int32(rt.(sql.DecimalType).Scale())
		v := truncateDecimal(valDecimal(ctx, vals[0]), min(d, int64(scale)))
		return decimal.New(0, -scale).Add(v), nil // written with the type's scale
	case sqltypes.IsSigned(q):
		v := valInt(ctx, vals[0])
		if d >= 0 {
			return v, nil
		}
		if d <= -19 {
			return int64(0), nil
		}
		p := int64(math.Pow10(int(-d)))
		return v / p * p, nil
	case sqltypes.IsUnsigned(q):
		v := valUint(ctx, vals[0])
		if d >= 0 {
			return v, nil
		}
		if d <= -20 {
			return uint64(0), nil
		}
		p := uint64(1)
		for i := int64(0); i < -d; i++ {
			p *= 10
		}
		return v / p * p, nil
	}
	return truncateDouble(valReal(ctx, vals[0]), d), nil
}

// truncateDecimal truncates v to d digits after the point (d ≥ 0) or zeroes its -d last
// digits before it.
func truncateDecimal(v decimal.Decimal, d int64) decimal.Decimal {
	switch {
	case d >= 0:
		return v.Truncate(int32(min(d, math.MaxInt32)))
	case d < -70: // past any DECIMAL's 65 digits
		return decimal.Zero
	}
	return v.Shift(int32(d)).Truncate(0).Shift(int32(-d))
}

// truncateDouble is MySQL's my_double_round with truncate set.
func truncateDouble(v float64, d int64) float64 {
	if d <= -309 {
		return 0
	}
	abs := d
	if abs < 0 {
		abs = -abs
	}
	tmp := math.Inf(1)
	if abs <= 308 {
		tmp = math.Pow10(int(abs))
	}
	mul := v * tmp
	if d >= 0 && (math.IsInf(mul, 0) || math.IsNaN(mul)) {
		return v
	}
	div := v / tmp
	switch {
	case v >= 0 && d < 0:
		return math.Floor(div) * tmp
	case v >= 0:
		return math.Floor(mul) / tmp
	case d < 0:
		return math.Ceil(div) * tmp
	}
	return math.Ceil(mul) / tmp
}

// OCT(N).

// evalOct is OCT, MySQL's CONV(N, 10, 8): N's decimal digits (as far as they go) read as a
// 64-bit integer, a negative one as its two's complement; NULL for an empty string.
func evalOct(ctx *sql.Context, c *builtinCall, vals []any) (any, error) {
	if c.args[0].Type().Type() == sqltypes.Bit {
		return strconv.FormatUint(valUint(ctx, vals[0]), 8), nil
	}
	s, err := valStr(ctx, vals[0])
	if err != nil || s == "" {
		return nil, err
	}
	return strconv.FormatUint(strToUint64(s), 8), nil
}

// strToUint64 is MySQL's my_strntoull in base 10: leading spaces and a sign, then digits up to
// the first other character; past 2^64-1 it is 2^64-1.
func strToUint64(s string) uint64 {
	s = strings.TrimLeft(s, " \t\r\n")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := uint64(s[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			return math.MaxUint64
		}
		n = n*10 + d
	}
	if neg {
		return -n
	}
	return n
}
