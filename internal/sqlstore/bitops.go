package sqlstore

import (
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
	"github.com/shopspring/decimal"
)

// Bit operations (&, |, ^, <<, >> and ~) in 64-bit unsigned integers, as MySQL computes them.
//
// MySQL reads each operand as a BIGINT UNSIGNED (a negative integer as its two's complement,
// a DECIMAL, DOUBLE or string rounded half away from zero and clamped to the 64-bit range)
// and returns BIGINT UNSIGNED. GMS computed any operand that was not an integer of the other
// operand's signedness in float64 and then int64: 5 ^ 18446744073709551615 was
// 9.223372036854776e18 (MySQL: 18446744073709551610), and any value from 2^63 up came out
// wrong. wrapOperation (arith.go) wraps GMS's BitOp in bitOp, which computes as MySQL does
// (date and time operands, which MySQL reads as numbers like 20240102, and binary strings such
// as hex literals keep GMS's way).
// GMS's planner refuses the unary ~ ("unsupported feature"); the parser wrapper
// (checkStatement, limits.go) writes ~x as x ^ 18446744073709551615, which is what it is.

// bitOp is a bit operation computed as MySQL does; see above.
type bitOp struct {
	*expression.BitOp
}

// wrapBitOp returns b as a bitOp unless an operand is a date or time.
func wrapBitOp(b *expression.BitOp) (sql.Expression, bool) {
	if types.IsTime(b.LeftChild.Type()) || types.IsTime(b.RightChild.Type()) {
		return b, false
	}
	return &bitOp{BitOp: b}, true
}

// Type implements sql.Expression.
func (b *bitOp) Type() sql.Type { return types.Uint64 }

// WithChildren implements sql.Expression.
func (b *bitOp) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := b.BitOp.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	w, _ := wrapBitOp(e.(*expression.BitOp))
	return w, nil
}

// Eval implements sql.Expression.
func (b *bitOp) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	lv, rv, err := evalOperands(ctx, row, b.LeftChild, b.RightChild)
	if err != nil || lv == nil {
		return nil, err
	}
	l, ok := bitOperand(ctx, lv)
	if !ok {
		return b.BitOp.Eval(ctx, row)
	}
	r, ok := bitOperand(ctx, rv)
	if !ok {
		return b.BitOp.Eval(ctx, row)
	}
	switch strings.ToLower(b.Op) {
	case ast.BitAndStr:
		return l & r, nil
	case ast.BitOrStr:
		return l | r, nil
	case ast.BitXorStr:
		return l ^ r, nil
	case ast.ShiftLeftStr:
		if r >= 64 {
			return uint64(0), nil
		}
		return l << r, nil
	case ast.ShiftRightStr:
		if r >= 64 {
			return uint64(0), nil
		}
		return l >> r, nil
	}
	return b.BitOp.Eval(ctx, row)
}

// bitCount is BIT_COUNT with its argument read as a bit operation's operand: GMS read it as
// a BIGINT, so BIT_COUNT(~0) was 63 (MySQL: 64). Binary strings keep GMS's per-byte count.
type bitCount struct {
	*function.BitCount
}

// WithChildren implements sql.Expression.
func (b *bitCount) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(b, len(children), 1)
	}
	return &bitCount{BitCount: function.NewBitCount(children[0]).(*function.BitCount)}, nil
}

// Eval implements sql.Expression.
func (b *bitCount) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	v, err := b.Child.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	if _, isBytes := v.([]byte); !isBytes {
		if n, ok := bitOperand(ctx, v); ok {
			return int32(bits.OnesCount64(n)), nil
		}
	}
	return b.BitCount.Eval(ctx, row)
}

// bitOperand reads v as MySQL reads a bit operation's operand; false for a value of a kind it
// does not know, binary strings among them (hex and bit literals, VARBINARY values), which
// keep GMS's way.
func bitOperand(ctx *sql.Context, v any) (uint64, bool) {
	if i, ok := toInt128(v); ok { // an integer (or bool): its low 64 bits, two's complement
		return i.lo, true
	}
	switch x := v.(type) {
	case float64:
		return floatBits(x), true
	case float32:
		return floatBits(float64(x)), true
	case decimal.Decimal:
		return decimalBits(x), true
	case string:
		return floatBits(numericPrefix(x)), true
	}
	if d, ok := v.(interface{ Decimal() decimal.Decimal }); ok {
		return decimalBits(d.Decimal()), true
	}
	return 0, false
}

// floatBits rounds f half away from zero into the 64-bit range: from -2^63 to 2^64-1, a
// negative value as its two's complement.
func floatBits(f float64) uint64 {
	f = math.Round(f)
	switch {
	case math.IsNaN(f):
		return 0
	case f >= 18446744073709551615.0:
		return math.MaxUint64
	case f >= 0:
		return uint64(f)
	case f <= math.MinInt64:
		return 1 << 63
	}
	return uint64(int64(f))
}

var (
	maxUint64Big = new(big.Int).SetUint64(math.MaxUint64)
	minInt64Big  = big.NewInt(math.MinInt64)
)

// decimalBits is floatBits for a DECIMAL, exactly.
func decimalBits(d decimal.Decimal) uint64 {
	n := d.Round(0).BigInt()
	switch {
	case n.Cmp(maxUint64Big) >= 0:
		return math.MaxUint64
	case n.Sign() >= 0:
		return n.Uint64()
	case n.Cmp(minInt64Big) <= 0:
		return 1 << 63
	}
	return uint64(n.Int64())
}

// allBits is the operand that makes x ^ allBits MySQL's ~x.
const allBits = "18446744073709551615"

// rewriteBitNot replaces each ~x in stmt by x ^ 18446744073709551615 (see above). Only a
// statement whose text holds a ~ is walked.
func rewriteBitNot(query string, stmt ast.Statement) {
	if strings.IndexByte(query, '~') < 0 {
		return
	}
	bitNotWalk(reflect.ValueOf(stmt), 0)
}

var unaryExprType = reflect.TypeOf(&ast.UnaryExpr{})

func bitNotWalk(v reflect.Value, depth int) {
	if depth > maxASTDepth {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			bitNotWalk(v.Elem(), depth+1)
		}
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		bitNotWalk(e, depth+1) // the operand first: ~~x
		if e.Type() == unaryExprType && v.CanSet() {
			if u := e.Interface().(*ast.UnaryExpr); u.Operator == ast.TildaStr {
				v.Set(reflect.ValueOf(ast.Expr(&ast.BinaryExpr{Operator: ast.BitXorStr, Left: u.Expr,
					Right: ast.NewIntVal([]byte(allBits))})))
			}
		}
	case reflect.Struct:
		for _, i := range structFields(v.Type()) {
			bitNotWalk(v.Field(i), depth+1) // only settable places are replaced
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			bitNotWalk(v.Index(i), depth+1)
		}
	}
}
