package sqlstore

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// locate is INSTR(str, substr) and LOCATE(substr, str[, pos]) in the arguments' collation
// (fixedfuncs.go): the position, in characters from 1, of the first substring of str from
// pos on that the collation finds equal to substr; 0 when there is none.
type locate struct {
	name             string // "instr" or "locate", as written
	str, substr, pos sql.Expression
}

var (
	_ sql.FunctionExpression = (*locate)(nil)
	_ sql.CollationCoercible = (*locate)(nil)
)

// Children implements sql.Expression: in the order the function takes them.
func (l *locate) Children() []sql.Expression {
	if l.name == "instr" {
		return []sql.Expression{l.str, l.substr}
	}
	if l.pos != nil {
		return []sql.Expression{l.substr, l.str, l.pos}
	}
	return []sql.Expression{l.substr, l.str}
}

// WithChildren implements sql.Expression.
func (l *locate) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	n := &locate{name: l.name}
	switch {
	case l.name == "instr" && len(children) == 2:
		n.str, n.substr = children[0], children[1]
	case l.name != "instr" && (len(children) == 2 || len(children) == 3):
		n.substr, n.str = children[0], children[1]
		if len(children) == 3 {
			n.pos = children[2]
		}
	default:
		return nil, sql.ErrInvalidChildrenNumber.New(l, len(children), len(l.Children()))
	}
	return n, nil
}

func (l *locate) Resolved() bool {
	for _, c := range l.Children() {
		if !c.Resolved() {
			return false
		}
	}
	return true
}

func (l *locate) IsNullable() bool     { return true }
func (l *locate) Type() sql.Type       { return types.Int64 }
func (l *locate) FunctionName() string { return l.name }
func (l *locate) Description() string {
	return "returns the position of the first occurrence of a substring, in the arguments' collation."
}

func (l *locate) String() string {
	args := l.Children()
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
	}
	return l.name + "(" + strings.Join(parts, ", ") + ")"
}

// CollationCoercibility implements sql.CollationCoercible: a number's.
func (l *locate) CollationCoercibility(*sql.Context) (sql.CollationID, byte) {
	return sql.Collation_binary, 5
}

// collation is the collation the arguments compare in (MySQL's derivation).
func (l *locate) collation(ctx *sql.Context) sql.CollationID {
	c1, k1 := sql.GetCoercibility(ctx, l.str)
	c2, k2 := sql.GetCoercibility(ctx, l.substr)
	c, _ := sql.ResolveCoercibility(c1, k1, c2, k2)
	if c == sql.Collation_Unspecified {
		return ctx.GetCollation()
	}
	return c
}

// Eval implements sql.Expression.
func (l *locate) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	texts := make([]string, 2)
	for i, e := range []sql.Expression{l.str, l.substr} {
		v, err := e.Eval(ctx, row)
		if err != nil || v == nil {
			return nil, err
		}
		s, _, err := types.LongText.Convert(ctx, v)
		if err != nil {
			return nil, err
		}
		if texts[i], _, err = sql.Unwrap[string](ctx, s); err != nil {
			return nil, err
		}
	}
	start := int64(1)
	if l.pos != nil {
		v, err := l.pos.Eval(ctx, row)
		if err != nil || v == nil {
			return nil, err
		}
		p, _, err := types.Int64.Convert(ctx, v)
		if err != nil {
			return nil, err
		}
		start = p.(int64)
	}
	text, needle := []rune(texts[0]), []rune(texts[1])
	if start < 1 || start > int64(len(text))+1 {
		return int64(0), nil
	}
	if len(needle) == 0 {
		return start, nil
	}
	st := types.MustCreateString(types.LongText.Type(), types.LongText.MaxCharacterLength(), l.collation(ctx))
	want := string(needle)
	for i := start - 1; i+int64(len(needle)) <= int64(len(text)); i++ {
		order, err := st.Compare(ctx, string(text[i:i+int64(len(needle))]), want)
		if err != nil {
			return nil, err
		}
		if order == 0 {
			return i + 1, nil
		}
	}
	return int64(0), nil
}
