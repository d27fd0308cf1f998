package tuple

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestIntOrder(t *testing.T) {
	vals := []int64{math.MinInt64, -1 << 40, -2, -1, 0, 1, 2, 1 << 40, math.MaxInt64}
	var prev []byte
	for _, v := range vals {
		k := AppendInt(nil, v)
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("%d not above previous", v)
		}
		e, rest, err := Next(k)
		if err != nil || len(rest) != 0 || e.Int != v {
			t.Fatalf("round trip %d: %+v %v", v, e, err)
		}
		prev = k
	}
	if bytes.Compare(AppendNull(nil), AppendInt(nil, math.MinInt64)) >= 0 {
		t.Fatal("NULL must sort first")
	}
}

func TestFloatOrder(t *testing.T) {
	vals := []float64{math.Inf(-1), -1e300, -1.5, -1e-300, 0, 1e-300, 1.5, 1e300, math.Inf(1)}
	var prev []byte
	for _, v := range vals {
		k := AppendFloat(nil, v)
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("%g not above previous", v)
		}
		e, _, err := Next(k)
		if err != nil || e.Float != v {
			t.Fatalf("round trip %g: %+v %v", v, e, err)
		}
		prev = k
	}
	if !bytes.Equal(AppendFloat(nil, math.Copysign(0, -1)), AppendFloat(nil, 0)) {
		t.Fatal("-0 and +0 differ")
	}
}

func TestBytesOrderAndPrefix(t *testing.T) {
	strs := []string{"", "\x00", "\x00\x00", "\x00\x01", "a", "a\x00", "a\x00b", "ab", "b"}
	var prev []byte
	for _, s := range strs {
		k := AppendInt(AppendString(nil, s), 7) // a following element must not disturb the order
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("%q not above previous", s)
		}
		es, err := Decode(k)
		if err != nil || len(es) != 2 || string(es[0].Bytes) != s || es[1].Int != 7 {
			t.Fatalf("round trip %q: %+v %v", s, es, err)
		}
		prev = k
	}
	// Every tuple starting with ("a") sorts in [("a"), PrefixEnd(("a"))).
	p := AppendString(nil, "a")
	end := PrefixEnd(p)
	for _, s := range []string{"a"} {
		for _, tail := range [][]byte{nil, AppendInt(nil, math.MaxInt64), AppendString(nil, "\xff\xff")} {
			k := append(AppendString(nil, s), tail...)
			if bytes.Compare(k, p) < 0 || bytes.Compare(k, end) >= 0 {
				t.Fatalf("%x outside the prefix range", k)
			}
		}
	}
	if k := AppendString(nil, "a\x00"); bytes.Compare(k, p) >= 0 && bytes.Compare(k, end) < 0 {
		t.Fatal("a longer string fell in the prefix's range")
	}
}

func TestDecimalOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var texts []string
	for i := 0; i < 3000; i++ {
		intDigits, fracDigits := rng.IntN(12), rng.IntN(8)
		s := ""
		if rng.IntN(2) == 0 {
			s = "-"
		}
		for j := 0; j < intDigits; j++ {
			s += fmt.Sprint(rng.IntN(10))
		}
		if intDigits == 0 {
			s += "0"
		}
		if fracDigits > 0 {
			s += "."
			for j := 0; j < fracDigits; j++ {
				s += fmt.Sprint(rng.IntN(10))
			}
		}
		texts = append(texts, s)
	}
	texts = append(texts, "0", "-0", "0.000", "100", "0.1", "-0.1", "99.99", "-100.5")
	rat := func(s string) *big.Rat {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("bad test decimal %q", s)
		}
		return r
	}
	sort.Slice(texts, func(i, j int) bool { return rat(texts[i]).Cmp(rat(texts[j])) < 0 })
	var prevKey []byte
	var prev string
	for _, s := range texts {
		k, err := AppendDecimal(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		if prevKey != nil {
			c := bytes.Compare(prevKey, k)
			want := rat(prev).Cmp(rat(s))
			if c != want {
				t.Fatalf("%s vs %s: bytes compare %d, values %d", prev, s, c, want)
			}
		}
		e, rest, err := Next(k)
		if err != nil || len(rest) != 0 || rat(string(e.Bytes)).Cmp(rat(s)) != 0 {
			t.Fatalf("round trip %s: %q %v", s, e.Bytes, err)
		}
		prevKey, prev = k, s
	}
	if _, err := AppendDecimal(nil, "1.2.3"); err == nil {
		t.Fatal("bad decimal accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(AppendString(AppendInt(nil, 5), "x\x00y"))
	d, _ := AppendDecimal(nil, "-12.5")
	f.Add(d)
	f.Fuzz(func(t *testing.T, b []byte) {
		Decode(b) // must not panic
	})
}
