package sqlstore

import (
	"math"
	"strconv"
	"strings"

	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// FLOAT and DOUBLE values as MySQL writes them in text results.
//
// GMS writes them with Go's shortest %g, which turns to an exponent from the seventh digit:
// a DOUBLE of 1234567 came out as 1.234567e+06, 1e10 as 1e+10 and 2e-5 as 2e-05, where MySQL
// writes 1234567, 10000000000 and 0.00002. MySQL writes a DOUBLE with the fewest digits that
// read back as it, a FLOAT with six significant digits (1234567 is 1234570), both in plain
// notation unless the decimal exponent is 15 or more or below -15, where it writes 1e15,
// 1.5e-16. The text protocol's rows are rewritten so; the binary protocol sends the values
// themselves.

// formatFloats rewrites the FLOAT and DOUBLE values of rows in place.
func formatFloats(fields []*querypb.Field, rows [][]sqltypes.Value) {
	for col, f := range fields {
		bits := 64
		switch f.Type {
		case sqltypes.Float64:
		case sqltypes.Float32:
			bits = 32
		default:
			continue
		}
		for _, row := range rows {
			if col >= len(row) || row[col].IsNull() {
				continue
			}
			v, err := strconv.ParseFloat(string(row[col].Raw()), bits)
			if err != nil {
				continue
			}
			row[col] = sqltypes.MakeTrusted(row[col].Type(), []byte(floatText(v, bits)))
		}
	}
}

// floatText writes v, a FLOAT (bits 32) or DOUBLE, as MySQL does.
func floatText(v float64, bits int) string {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.FormatFloat(v, 'g', -1, bits)
	}
	prec := -1
	if bits == 32 {
		prec = 5 // six significant digits
	}
	s := strconv.FormatFloat(v, 'e', prec, 64) // [-]d.ddde±XX
	var b strings.Builder
	if s[0] == '-' {
		b.WriteByte('-')
		s = s[1:]
	}
	e := strings.IndexByte(s, 'e')
	exp, _ := strconv.Atoi(s[e+1:])
	digits := strings.TrimRight(strings.Replace(s[:e], ".", "", 1), "0")
	if digits == "" {
		digits = "0"
	}
	switch {
	case exp < -15 || exp >= 15:
		b.WriteByte(digits[0])
		if len(digits) > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		b.WriteString(strconv.Itoa(exp))
	case exp < 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -exp-1))
		b.WriteString(digits)
	case len(digits) <= exp+1:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", exp+1-len(digits)))
	default:
		b.WriteString(digits[:exp+1])
		b.WriteByte('.')
		b.WriteString(digits[exp+1:])
	}
	return b.String()
}
