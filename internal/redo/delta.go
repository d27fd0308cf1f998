package redo

import (
	"encoding/binary"
	"errors"

	"strata/internal/page"
)

// A delta describes a cell as edits of another cell already on the page, its base: what an
// UPDATE writes is a new version of a row beside the old one, and most of its bytes are the
// old one's. It is a sequence of operations, each three unsigned varints and some bytes:
//
//	copy n   the next n bytes of the base
//	skip n   drop the next n bytes of the base
//	add n    n bytes that follow in the delta
//
// applied in turn from the start of the base, which the operations must consume exactly.

// Delta search bounds: after a difference, the encoder looks for the base and the cell to
// agree again within deltaReach bytes of each, on at least deltaRun bytes (or to the end of
// both). Beyond that the rest of the cell is added whole.
const (
	deltaReach = 24
	deltaRun   = 8
	// deltaMinSaving is how much smaller than the cell a delta must be to be logged instead.
	deltaMinSaving = 8
)

var errDelta = errors.New("bad delta")

// AppendDelta appends to dst a delta that makes target from base.
func AppendDelta(dst, base, target []byte) []byte {
	i, j := 0, 0
	for {
		c := commonPrefix(base[i:], target[j:])
		i += c
		j += c
		if j == len(target) {
			return appendOp(dst, c, len(base)-i, nil)
		}
		a, b, ok := resync(base[i:], target[j:])
		if !ok {
			return appendOp(dst, c, len(base)-i, target[j:])
		}
		dst = appendOp(dst, c, a, target[j:j+b])
		i += a
		j += b
	}
}

func appendOp(dst []byte, cp, skip int, add []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(cp))
	dst = binary.AppendUvarint(dst, uint64(skip))
	dst = binary.AppendUvarint(dst, uint64(len(add)))
	return append(dst, add...)
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// resync finds the nearest a, b (least a+b, then least b) within deltaReach where base[a:]
// and target[b:] agree on deltaRun bytes or on all that is left of both.
func resync(base, target []byte) (a, b int, ok bool) {
	for s := 1; s <= 2*deltaReach; s++ {
		for b = max(0, s-deltaReach); b <= min(s, deltaReach); b++ {
			a = s - b
			if a > len(base) || b > len(target) {
				continue
			}
			ra, rb := base[a:], target[b:]
			n := commonPrefix(ra, rb)
			if n >= deltaRun || (n == len(ra) && n == len(rb)) {
				return a, b, true
			}
		}
	}
	return 0, 0, false
}

// applyDelta appends to dst the cell that delta makes from base.
func applyDelta(dst, base, delta []byte) ([]byte, error) {
	i := 0
	for len(delta) > 0 {
		var op [3]uint64
		for k := range op {
			v, n := binary.Uvarint(delta)
			if n <= 0 {
				return nil, errDelta
			}
			op[k] = v
			delta = delta[n:]
		}
		cp, skip, add := op[0], op[1], op[2]
		if cp > uint64(len(base)-i) {
			return nil, errDelta
		}
		dst = append(dst, base[i:i+int(cp)]...)
		i += int(cp)
		if skip > uint64(len(base)-i) || add > uint64(len(delta)) {
			return nil, errDelta
		}
		i += int(skip)
		dst = append(dst, delta[:add]...)
		delta = delta[add:]
		if len(dst) > page.MaxCell {
			return nil, errDelta
		}
	}
	if i != len(base) {
		return nil, errDelta
	}
	return dst, nil
}
