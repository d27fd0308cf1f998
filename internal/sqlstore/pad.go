package sqlstore

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// pad is LPAD and RPAD counting characters. GMS's counted bytes, so LPAD('áb', 3, 'x') was
// 'áb' (MySQL: 'xáb') and a cut could split a character into invalid UTF-8; and it answered
// ” where MySQL answers NULL: a negative length, or an empty pad string with nothing to cut.
// A result over max_allowed_packet is NULL with warning 1301, as in MySQL. GMS's Pad still
// gives the type, collation and name.
type pad struct {
	*function.Pad
	left            bool
	str, length, by sql.Expression
}

var _ sql.FunctionExpression = (*pad)(nil)

func newPad(left bool, args []sql.Expression) (sql.Expression, error) {
	var g sql.Expression
	var err error
	if left {
		g, err = function.NewLeftPad(args...)
	} else {
		g, err = function.NewRightPad(args...)
	}
	if err != nil {
		return nil, err
	}
	return &pad{Pad: g.(*function.Pad), left: left, str: args[0], length: args[1], by: args[2]}, nil
}

// IsNullable implements sql.Expression.
func (p *pad) IsNullable() bool { return true }

// WithChildren implements sql.Expression.
func (p *pad) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 3 {
		return nil, sql.ErrInvalidChildrenNumber.New(p, len(children), 3)
	}
	return newPad(p.left, children)
}

// Eval implements sql.Expression.
func (p *pad) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	var vals [3]any
	for i, e := range []sql.Expression{p.str, p.length, p.by} {
		v, err := e.Eval(ctx, row)
		if err != nil || v == nil {
			return nil, err
		}
		vals[i] = v
	}
	n, _, err := types.Int64.Convert(ctx, vals[1])
	if err != nil {
		return nil, err
	}
	length := n.(int64)
	str, err := padText(ctx, vals[0])
	if err != nil {
		return nil, err
	}
	by, err := padText(ctx, vals[2])
	if err != nil {
		return nil, err
	}
	if length < 0 {
		return nil, nil
	}
	rs := []rune(str)
	if int64(len(rs)) >= length {
		return string(rs[:length]), nil
	}
	br := []rune(by)
	if len(br) == 0 {
		return nil, nil
	}
	need := int(length) - len(rs)
	size := int64(len(str)) + int64(need/len(br))*int64(len(by)) + int64(len(string(br[:need%len(br)])))
	if limit := maxAllowedPacket(ctx); size > limit {
		ctx.Warn(erWarnAllowedPacketOverflowed, "Result of %s() was larger than max_allowed_packet (%d) - truncated", p.FunctionName(), limit)
		return nil, nil
	}
	var b strings.Builder
	if !p.left {
		b.WriteString(str)
	}
	for i := 0; i < need; i++ {
		b.WriteRune(br[i%len(br)])
	}
	if p.left {
		b.WriteString(str)
	}
	return b.String(), nil
}

func padText(ctx *sql.Context, v any) (string, error) {
	t, _, err := types.LongText.Convert(ctx, v)
	if err != nil {
		return "", err
	}
	s, _, err := sql.Unwrap[string](ctx, t)
	if err != nil {
		return "", fmt.Errorf("lpad/rpad: %w", err)
	}
	return s, nil
}
