package sqlstore

import (
	"github.com/dolthub/vitess/go/sqltypes"
)

// Rows sent over the binary protocol (prepared statements).
//
// vitess encodes a DATE, DATETIME or TIMESTAMP value from its text: "0000-00-00" went out as
// year 0, month 0, day 0 in a 4-byte (or 7- or 11-byte) value, which drivers turn into a
// real date (go-sql-driver's parseTime gave -0001-11-30). MySQL sends a zero date as a
// value of length 0, which drivers read as the zero date (text "0000-00-00", Go's zero
// time.Time). vitess writes length 0 for an empty value (go/mysql/query.go, val2MySQL), so
// zero dates are given to it empty.

// binaryRowsCallback returns callback with the values of res's rows made as MySQL sends
// them over the binary protocol, and its column definitions too (fields.go).
func binaryRowsCallback(callback func(*sqltypes.Result) error, w *tinyintWidths, sp *tableSpellings) func(*sqltypes.Result) error {
	return func(res *sqltypes.Result) error {
		if res != nil {
			emptyZeroDates(res)
		}
		return callback(withMySQLFields(res, w, sp))
	}
}

// emptyZeroDates replaces the all-zero DATE, DATETIME and TIMESTAMP values of res by empty
// ones of the same type.
func emptyZeroDates(res *sqltypes.Result) {
	var cols []int
	for i, f := range res.Fields {
		switch f.Type {
		case sqltypes.Date, sqltypes.Datetime, sqltypes.Timestamp:
			cols = append(cols, i)
		}
	}
	if len(cols) == 0 {
		return
	}
	for _, row := range res.Rows {
		for _, i := range cols {
			if i < len(row) && isZeroDate(row[i]) {
				row[i] = sqltypes.MakeTrusted(row[i].Type(), nil)
			}
		}
	}
}

// isZeroDate reports whether v is a date or time of day value whose digits are all zero
// ("0000-00-00", "0000-00-00 00:00:00.000").
func isZeroDate(v sqltypes.Value) bool {
	switch v.Type() {
	case sqltypes.Date, sqltypes.Datetime, sqltypes.Timestamp:
	default:
		return false
	}
	raw := v.Raw()
	if len(raw) == 0 {
		return false
	}
	for _, c := range raw {
		switch c {
		case '0', '-', ':', ' ', '.':
		default:
			return false
		}
	}
	return true
}
