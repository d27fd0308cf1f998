package redo

import (
	"encoding/binary"
	"errors"
	"math/bits"

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
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := le.Uint64(a[i:]) ^ le.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// resync finds the nearest a, b (least a+b, then least b) within deltaReach where base[a:]
// and target[b:] agree on deltaRun bytes or on all that is left of both.
func resync(base, target []byte) (a, b int, ok bool) {
	best, bestB := -1, 0
	better := func(a, b int) bool {
		return best < 0 || a+b < best || a+b == best && b < bestB
	}
	// Tails shorter than a run that are equal (or both empty).
	for r := 0; r < deltaRun; r++ {
		a, b := len(base)-r, len(target)-r
		if a >= 0 && b >= 0 && a <= deltaReach && b <= deltaReach && better(a, b) &&
			string(base[a:]) == string(target[b:]) {
			best, bestB = a+b, b
		}
	}
	// Runs of deltaRun bytes, compared as words, nearest first.
	var bw, tw [deltaReach + 1]uint64
	na, nb := min(deltaReach, len(base)-deltaRun), min(deltaReach, len(target)-deltaRun)
	for a := 0; a <= na; a++ {
		bw[a] = le.Uint64(base[a:])
	}
	for b := 0; b <= nb; b++ {
		tw[b] = le.Uint64(target[b:])
	}
	limit := na + nb
	if best >= 0 {
		limit = min(limit, best)
	}
	for s := 1; s <= limit; s++ {
		for b := max(0, s-na); b <= min(s, nb); b++ {
			if bw[s-b] == tw[b] {
				if better(s-b, b) {
					best, bestB = s, b
				}
				return best - bestB, bestB, true
			}
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	return best - bestB, bestB, true
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
