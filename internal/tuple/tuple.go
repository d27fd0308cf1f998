// Package tuple provides an order-preserving encoding of tuples of typed values: the bytes of
// two encoded tuples compare (bytes.Compare) as the tuples compare element by element, with
// NULL first. Index and primary keys are encoded with it, so a B+tree ordered by raw bytes
// serves SQL ordering and range lookups.
package tuple

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Element tags. NULL sorts before every value; each kind has its own tag so a decoder knows
// what follows, but values of one column always have one kind.
const (
	tagNull    = 0x01
	tagInt     = 0x10
	tagUint    = 0x11
	tagFloat   = 0x12
	tagBytes   = 0x13
	tagDecimal = 0x14
	// Tags above tagMax are reserved so that a prefix of a tuple can be bounded: see PrefixEnd.
	tagMax = 0x7f
)

// ErrCorrupt is returned when bytes are not a valid tuple.
var ErrCorrupt = errors.New("tuple: corrupt encoding")

// AppendNull appends a NULL element.
func AppendNull(b []byte) []byte { return append(b, tagNull) }

// AppendInt appends a signed integer.
func AppendInt(b []byte, v int64) []byte {
	b = append(b, tagInt)
	return binary.BigEndian.AppendUint64(b, uint64(v)^(1<<63))
}

// AppendUint appends an unsigned integer.
func AppendUint(b []byte, v uint64) []byte {
	b = append(b, tagUint)
	return binary.BigEndian.AppendUint64(b, v)
}

// AppendFloat appends a float; -0 and +0 encode alike, NaN sorts above +Inf.
func AppendFloat(b []byte, v float64) []byte {
	if v == 0 {
		v = 0 // folds -0 into +0
	}
	u := math.Float64bits(v)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	b = append(b, tagFloat)
	return binary.BigEndian.AppendUint64(b, u)
}

// AppendBytes appends a byte string: 0x00 is escaped as 0x00 0xFF and the string ends with
// 0x00 0x01, so that a string sorts before its extensions.
func AppendBytes(b []byte, v []byte) []byte {
	b = append(b, tagBytes)
	for _, c := range v {
		if c == 0 {
			b = append(b, 0, 0xff)
		} else {
			b = append(b, c)
		}
	}
	return append(b, 0, 1)
}

// AppendString appends a string as bytes.
func AppendString(b []byte, v string) []byte {
	b = append(b, tagBytes)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 {
			b = append(b, 0, 0xff)
		} else {
			b = append(b, c)
		}
	}
	return append(b, 0, 1)
}

// PrefixEnd returns the smallest key above every key that starts with the complete elements
// in prefix: prefix followed by a byte above every tag.
func PrefixEnd(prefix []byte) []byte {
	return append(append([]byte(nil), prefix...), 0xff)
}

// Kind is the kind of a decoded element.
type Kind uint8

// Element kinds.
const (
	KindNull Kind = iota
	KindInt
	KindUint
	KindFloat
	KindBytes
	KindDecimal
)

// Elem is a decoded element.
type Elem struct {
	Kind  Kind
	Int   int64
	Uint  uint64
	Float float64
	Bytes []byte // KindBytes: the unescaped string; KindDecimal: the decimal's text
}

// Next decodes the element at the start of b and returns it with the rest of b.
func Next(b []byte) (Elem, []byte, error) {
	if len(b) == 0 {
		return Elem{}, nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	switch b[0] {
	case tagNull:
		return Elem{Kind: KindNull}, b[1:], nil
	case tagInt, tagUint, tagFloat:
		if len(b) < 9 {
			return Elem{}, nil, fmt.Errorf("%w: short number", ErrCorrupt)
		}
		u := binary.BigEndian.Uint64(b[1:])
		switch b[0] {
		case tagInt:
			return Elem{Kind: KindInt, Int: int64(u ^ 1<<63)}, b[9:], nil
		case tagUint:
			return Elem{Kind: KindUint, Uint: u}, b[9:], nil
		default:
			if u&(1<<63) != 0 {
				u &^= 1 << 63
			} else {
				u = ^u
			}
			return Elem{Kind: KindFloat, Float: math.Float64frombits(u)}, b[9:], nil
		}
	case tagBytes:
		out, rest, err := unescape(b[1:])
		return Elem{Kind: KindBytes, Bytes: out}, rest, err
	case tagDecimal:
		return nextDecimal(b[1:])
	}
	return Elem{}, nil, fmt.Errorf("%w: tag %#x", ErrCorrupt, b[0])
}

func unescape(b []byte) ([]byte, []byte, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return nil, nil, fmt.Errorf("%w: unterminated string", ErrCorrupt)
		}
		switch b[i+1] {
		case 0xff:
			out = append(out, 0)
			i++
		case 1:
			return out, b[i+2:], nil
		default:
			return nil, nil, fmt.Errorf("%w: bad escape %#x", ErrCorrupt, b[i+1])
		}
	}
	return nil, nil, fmt.Errorf("%w: unterminated string", ErrCorrupt)
}

// Decode decodes every element of a tuple.
func Decode(b []byte) ([]Elem, error) {
	var out []Elem
	for len(b) > 0 {
		e, rest, err := Next(b)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		b = rest
	}
	return out, nil
}
