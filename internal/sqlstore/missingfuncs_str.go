package sqlstore

import (
	"math"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
)

// INSERT, EXPORT_SET and MAKE_SET (missingfuncs.go).

// INSERT(str, pos, len, newstr).

// insertType is LONGBLOB when str or newstr is a binary string (the function then counts
// bytes), LONGTEXT otherwise.
func insertType(args []sql.Expression) sql.Type {
	if isBinaryString(args[0].Type()) || isBinaryString(args[3].Type()) {
		return types.LongBlob
	}
	return types.LongText
}

// isBinaryString says whether t is BINARY, VARBINARY or a BLOB.
func isBinaryString(t sql.Type) bool {
	switch t.Type() {
	case sqltypes.Binary, sqltypes.VarBinary, sqltypes.Blob:
		return true
	}
	return false
}

// evalInsert is INSERT: str with its len characters from pos on replaced by newstr; str
// itself when pos is not within it, and the rest of str when len is negative or past its end.
func evalInsert(ctx *sql.Context, c *builtinCall, vals []any) (any, error) {
	str, err := valStr(ctx, vals[0])
	if err != nil {
		return nil, err
	}
	newstr, err := valStr(ctx, vals[3])
	if err != nil {
		return nil, err
	}
	pos, n := valInt(ctx, vals[1]), valInt(ctx, vals[2])
	if types.IsBinaryType(c.Type()) {
		out := spliceAt([]byte(str), pos, n, []byte(newstr))
		if tooLong(ctx, c, int64(len(out))) {
			return nil, nil
		}
		return out, nil
	}
	out := string(spliceAt([]rune(str), pos, n, []rune(newstr)))
	if tooLong(ctx, c, int64(len(out))) {
		return nil, nil
	}
	return out, nil
}

// spliceAt is INSERT over characters or bytes.
func spliceAt[T any](s []T, pos, n int64, ins []T) []T {
	l := int64(len(s))
	if pos < 1 || pos > l {
		return s
	}
	start := pos - 1
	if n < 0 || n > l-start {
		n = l - start
	}
	out := make([]T, 0, l-n+int64(len(ins)))
	out = append(out, s[:start]...)
	out = append(out, ins...)
	return append(out, s[start+n:]...)
}

// EXPORT_SET(bits, on, off[, separator[, number_of_bits]]), MAKE_SET(bits, str1, str2, ...).

// evalExportSet is EXPORT_SET: for each of the number_of_bits (at most and by default 64)
// lowest bits of bits, on if it is set and off if not, joined by separator (a comma).
func evalExportSet(ctx *sql.Context, c *builtinCall, vals []any) (any, error) {
	bits := valUint(ctx, vals[0])
	strs := []string{"", "", ","}
	for i := 1; i < len(vals) && i <= 3; i++ {
		s, err := valStr(ctx, vals[i])
		if err != nil {
			return nil, err
		}
		strs[i-1] = s
	}
	on, off, sep := strs[0], strs[1], strs[2]
	count := uint64(64)
	if len(vals) == 5 {
		count = min(uint64(valInt(ctx, vals[4])), 64) // a negative count is 64
	}
	size := count * uint64(max(len(on), len(off)))
	if count > 0 {
		size += (count - 1) * uint64(len(sep))
	}
	if tooLong(ctx, c, int64(min(size, math.MaxInt64))) {
		return nil, nil
	}
	var b strings.Builder
	b.Grow(int(size))
	for i := uint64(0); i < count; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		if bits&(1<<i) != 0 {
			b.WriteString(on)
		} else {
			b.WriteString(off)
		}
	}
	return b.String(), nil
}

// evalMakeSet is MAKE_SET: the strings whose bits are set in bits (str1 the lowest), NULLs
// left out, joined by commas; NULL when bits is NULL.
func evalMakeSet(ctx *sql.Context, _ *builtinCall, vals []any) (any, error) {
	if vals[0] == nil {
		return nil, nil
	}
	bits := valUint(ctx, vals[0])
	if n := len(vals) - 1; n < 64 {
		bits &= 1<<n - 1
	}
	var parts []string
	for i := 1; bits != 0; i, bits = i+1, bits>>1 {
		if bits&1 == 0 || vals[i] == nil {
			continue
		}
		s, err := valStr(ctx, vals[i])
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ","), nil
}
