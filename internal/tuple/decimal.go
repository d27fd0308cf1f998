package tuple

import (
	"fmt"
	"strings"
)

// Decimals are encoded from their canonical text (an optional '-', digits, an optional '.'
// and digits) as: a sign class byte (0x01 negative, 0x02 zero, 0x03 positive), then for
// non-zero values the decimal exponent (the position of the first significant digit) as a
// 2-byte big-endian number biased by 0x8000, then the significant digits (trailing zeros
// dropped) one per byte as '0'+d, then a terminator 0x00. For negative values every byte after
// the class is inverted, so larger magnitudes sort first.

// AppendDecimal appends a decimal given as text, e.g. "-12.340".
func AppendDecimal(b []byte, s string) ([]byte, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, _ := strings.Cut(s, ".")
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return b, fmt.Errorf("tuple: bad decimal %q", s)
			}
		}
	}
	if intPart == "" && frac == "" {
		return b, fmt.Errorf("tuple: bad decimal %q", s)
	}
	digits := strings.TrimLeft(intPart, "0")
	exp := len(digits)
	if digits == "" {
		f := strings.TrimLeft(frac, "0")
		exp = -(len(frac) - len(f))
		digits = f
	} else {
		digits += frac
	}
	digits = strings.TrimRight(digits, "0")
	b = append(b, tagDecimal)
	if digits == "" {
		return append(b, 0x02), nil
	}
	if exp < -0x7fff || exp > 0x7fff {
		return b, fmt.Errorf("tuple: decimal %q out of range", s)
	}
	start := len(b) + 1
	b = append(b, 0x03)
	e := uint16(exp + 0x8000)
	b = append(b, byte(e>>8), byte(e))
	for i := 0; i < len(digits); i++ {
		b = append(b, digits[i]-'0'+1)
	}
	b = append(b, 0)
	if neg {
		b[start-1] = 0x01
		for i := start; i < len(b); i++ {
			b[i] = ^b[i]
		}
	}
	return b, nil
}

func nextDecimal(b []byte) (Elem, []byte, error) {
	if len(b) == 0 {
		return Elem{}, nil, fmt.Errorf("%w: short decimal", ErrCorrupt)
	}
	class := b[0]
	if class == 0x02 {
		return Elem{Kind: KindDecimal, Bytes: []byte("0")}, b[1:], nil
	}
	if class != 0x01 && class != 0x03 || len(b) < 4 {
		return Elem{}, nil, fmt.Errorf("%w: decimal class %#x", ErrCorrupt, class)
	}
	neg := class == 0x01
	get := func(i int) byte {
		if neg {
			return ^b[i]
		}
		return b[i]
	}
	exp := int(uint16(get(1))<<8|uint16(get(2))) - 0x8000
	var digits []byte
	i := 3
	for ; i < len(b) && get(i) != 0; i++ {
		d := get(i)
		if d < 1 || d > 10 {
			return Elem{}, nil, fmt.Errorf("%w: decimal digit %#x", ErrCorrupt, d)
		}
		digits = append(digits, '0'+d-1)
	}
	if i >= len(b) {
		return Elem{}, nil, fmt.Errorf("%w: unterminated decimal", ErrCorrupt)
	}
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	switch {
	case exp <= 0:
		sb.WriteString("0.")
		sb.WriteString(strings.Repeat("0", -exp))
		sb.Write(digits)
	case exp >= len(digits):
		sb.Write(digits)
		sb.WriteString(strings.Repeat("0", exp-len(digits)))
	default:
		sb.Write(digits[:exp])
		sb.WriteByte('.')
		sb.Write(digits[exp:])
	}
	return Elem{Kind: KindDecimal, Bytes: []byte(sb.String())}, b[i+1:], nil
}
