package sqlstore

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/planbuilder/dateparse"
)

// STR_TO_DATE of numeric fields written without separators.
//
// MySQL reads each numeric field of STR_TO_DATE's format from at most a fixed number of
// digits (two for %H %k %h %I %l %i %s %S %d %e %m %c and %y, four for %Y, three for %j, six
// for %f), so STR_TO_DATE('20240131103000', '%Y%m%d%H%i%s') is 2024-01-31 10:30:00. GMS's
// parser (planbuilder/dateparse) bounds the date fields but reads an hour, minute or second
// as all the digits that follow: '1030' was hour 1030, and the result NULL. strToDate puts a
// separator after each such field when a digit follows it directly, in the value and the
// format alike, and hands the result to GMS's parser; from the first specifier it does not
// know (month names, AM/PM, %T…) or the first mismatch on, value and format go on unchanged.

// strToDateWidths are the digits MySQL reads at most for each numeric specifier.
var strToDateWidths = map[byte]int{'Y': 4, 'y': 2, 'm': 2, 'c': 2, 'd': 2, 'e': 2, 'j': 3,
	'H': 2, 'k': 2, 'h': 2, 'I': 2, 'l': 2, 'i': 2, 's': 2, 'S': 2, 'f': 6}

// fieldSeparator is put between adjacent numeric fields: a byte no date text holds.
const fieldSeparator = '\x1f'

// separateFields returns value and format with a separator after each bounded numeric field
// that a digit follows directly.
func separateFields(value, format string) (string, string) {
	var v, f strings.Builder
	vi, fi := 0, 0
	for fi < len(format) {
		c := format[fi]
		if c != '%' {
			if vi >= len(value) || value[vi] != c {
				break
			}
			v.WriteByte(c)
			f.WriteByte(c)
			vi++
			fi++
			continue
		}
		if fi+1 >= len(format) {
			break
		}
		width, ok := strToDateWidths[format[fi+1]]
		if !ok {
			break
		}
		n := 0
		for n < width && vi+n < len(value) && value[vi+n] >= '0' && value[vi+n] <= '9' {
			n++
		}
		if n == 0 {
			break
		}
		v.WriteString(value[vi : vi+n])
		f.WriteString(format[fi : fi+2])
		vi += n
		fi += 2
		if vi < len(value) && value[vi] >= '0' && value[vi] <= '9' && fi+1 < len(format) && format[fi] == '%' {
			v.WriteByte(fieldSeparator)
			f.WriteByte(fieldSeparator)
		}
	}
	v.WriteString(value[vi:])
	f.WriteString(format[fi:])
	return v.String(), f.String()
}

// strToDate is GMS's STR_TO_DATE (its type, text and checks) reading fields as MySQL does.
type strToDate struct {
	*function.StrToDate
}

func newStrToDate(value, format sql.Expression) sql.Expression {
	return &strToDate{StrToDate: function.NewStrToDate(value, format).(*function.StrToDate)}
}

// WithChildren implements sql.Expression.
func (s *strToDate) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 2 {
		return nil, sql.ErrInvalidChildrenNumber.New(s, len(children), 2)
	}
	return newStrToDate(children[0], children[1]), nil
}

// Eval implements sql.Expression.
func (s *strToDate) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	date, err := s.Date.Eval(ctx, row)
	if err != nil {
		return nil, err
	}
	format, err := s.Format.Eval(ctx, row)
	if err != nil {
		return nil, err
	}
	ds, ok1 := date.(string)
	fs, ok2 := format.(string)
	if !ok1 || !ok2 {
		return s.StrToDate.Eval(ctx, row) // GMS's answer for other values
	}
	v, f := separateFields(ds, fs)
	t, err := dateparse.ParseDateWithFormat(v, f)
	if err != nil {
		ctx.Warn(1411, "Incorrect value: '%s' for function %s", ds, s.FunctionName())
		return nil, nil
	}
	return t, nil
}
