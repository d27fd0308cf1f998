package redo

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// mutate returns a copy of b with a few random edits: bytes changed, inserted and removed.
func mutate(rng *rand.Rand, b []byte) []byte {
	out := bytes.Clone(b)
	for n := rng.IntN(5); n > 0; n-- {
		at := 0
		if len(out) > 0 {
			at = rng.IntN(len(out) + 1)
		}
		switch rng.IntN(3) {
		case 0:
			if at < len(out) {
				out[at] = byte(rng.IntN(256))
			}
		case 1:
			ins := make([]byte, rng.IntN(40))
			for i := range ins {
				ins[i] = byte(rng.IntN(4)) // few values: spurious matches
			}
			out = append(out[:at], append(ins, out[at:]...)...)
		case 2:
			end := min(len(out), at+rng.IntN(40))
			out = append(out[:at], out[end:]...)
		}
	}
	return out
}

// TestDelta checks that a delta always makes its target from its base, and that a few edits
// of a long cell give a delta much smaller than the cell.
func TestDelta(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	small := 0
	for i := 0; i < 20000; i++ {
		base := make([]byte, rng.IntN(700))
		for j := range base {
			base[j] = byte(rng.IntN(256))
		}
		target := mutate(rng, base)
		if rng.IntN(10) == 0 {
			target = mutate(rng, nil)
		}
		d := AppendDelta([]byte("prefix"), base, target)
		if !bytes.HasPrefix(d, []byte("prefix")) {
			t.Fatal("AppendDelta does not append")
		}
		got, err := applyDelta([]byte("x"), base, d[6:])
		if err != nil || !bytes.Equal(got[1:], target) || got[0] != 'x' {
			t.Fatalf("base %x target %x: delta %x gives %x, %v", base, target, d[6:], got, err)
		}
		if len(base) > 300 && len(target) > 8 && bytes.Equal(target[:8], base[:8]) && len(d)-6 < len(target)/4 {
			small++
		}
	}
	if small < 1000 {
		t.Errorf("only %d of the long cells' deltas are under a quarter of the cell", small)
	}
}

// TestDeltaRow is the case deltas are for: a new version of a row beside the old one.
func TestDeltaRow(t *testing.T) {
	base := []byte("\x10stock\x00\x00\x00\x01\x00\x00\x00\x05\xf0\x01" +
		"q=17;" + "dist01=abcdefghijklmnopqrstuvwx;dist02=bcdefghijklmnopqrstuvwxy;" + "ytd=120.00;cnt=4;" +
		"data=some fifty bytes of original data for this item......")
	target := []byte("\x10stock\x00\x00\x00\x01\x00\x00\x00\x05\xe2\x07" +
		"q=9;" + "dist01=abcdefghijklmnopqrstuvwx;dist02=bcdefghijklmnopqrstuvwxy;" + "ytd=1205.50;cnt=5;" +
		"data=some fifty bytes of original data for this item......")
	d := AppendDelta(nil, base, target)
	if got, err := applyDelta(nil, base, d); err != nil || !bytes.Equal(got, target) {
		t.Fatalf("delta gives %q, %v", got, err)
	}
	if len(d) > 30 {
		t.Errorf("delta of %d bytes for a %d-byte row with three fields changed: %x", len(d), len(target), d)
	}
}

// TestDeltaErrors checks that a delta that does not fit its base is an error.
func TestDeltaErrors(t *testing.T) {
	base := []byte("0123456789")
	for _, d := range [][]byte{
		{5},            // truncated operation
		{11, 0, 0},     // copies past the base
		{5, 6, 0},      // skips past the base
		{5, 0, 3, 'a'}, // adds bytes that are not there
		{5, 0, 0},      // leaves base bytes unconsumed
		{0x80},         // bad varint
	} {
		if got, err := applyDelta(nil, base, d); err == nil {
			t.Errorf("delta %x: %q, no error", d, got)
		}
	}
	if got, err := applyDelta(nil, base, []byte{5, 5, 2, 'a', 'b'}); err != nil || string(got) != "01234ab" {
		t.Errorf("valid delta: %q, %v", got, err)
	}
	big := []byte{0, 10, 0xff, 0x7f}
	if _, err := applyDelta(nil, base, append(big, make([]byte, 0x3fff)...)); err == nil {
		t.Error("a delta making a cell over MaxCell is no error")
	}
}

func BenchmarkDeltaRow(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := make([]byte, 340)
	for i := range base {
		base[i] = byte(rng.IntN(256))
	}
	target := bytes.Clone(base)
	copy(target[12:], []byte{1, 2})
	copy(target[270:], []byte("1205.50;5;1"))
	var d []byte
	for i := 0; i < b.N; i++ {
		d = AppendDelta(d[:0], base, target)
	}
	b.ReportMetric(float64(len(d)), "delta-bytes")
}
