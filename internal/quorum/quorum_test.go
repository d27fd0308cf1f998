package quorum

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"strata/internal/page"
)

func TestDurableLSN(t *testing.T) {
	for _, tc := range []struct {
		acks []page.LSN
		q    int
		want page.LSN
	}{
		{nil, 2, 0},
		{[]page.LSN{100}, 2, 0},
		{[]page.LSN{100, 0, 0}, 2, 0},
		{[]page.LSN{100, 90, 0}, 2, 90},
		{[]page.LSN{100, 90, 95}, 2, 95},
		{[]page.LSN{100, 90, 95}, 3, 90},
		{[]page.LSN{100, 90, 95}, 1, 100},
		{[]page.LSN{7, 7, 7}, 2, 7},
		{[]page.LSN{5, 9, 1, 3, 8}, 3, 5},
		{[]page.LSN{5, 9}, 0, 0},
	} {
		in := append([]page.LSN(nil), tc.acks...)
		if got := DurableLSN(tc.acks, tc.q); got != tc.want {
			t.Errorf("DurableLSN(%v, %d) = %d, want %d", tc.acks, tc.q, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.acks[i] {
				t.Fatalf("DurableLSN modified its input: %v -> %v", in, tc.acks)
			}
		}
	}
	if Majority(3) != 2 || Majority(5) != 3 || Majority(1) != 1 || Majority(4) != 3 {
		t.Fatal("Majority")
	}
}

// TestDurableMonotone checks, over every ack vector of small LSNs, that raising one replica's
// ack never lowers the durable LSN and that the result is acknowledged by at least q replicas.
func TestDurableMonotone(t *testing.T) {
	const max = 5
	for a := page.LSN(0); a < max; a++ {
		for b := page.LSN(0); b < max; b++ {
			for c := page.LSN(0); c < max; c++ {
				acks := []page.LSN{a, b, c}
				d := DurableLSN(acks, 2)
				n := 0
				for _, x := range acks {
					if x >= d {
						n++
					}
				}
				if n < 2 {
					t.Fatalf("%v: durable %d acknowledged by %d", acks, d, n)
				}
				for i := range acks {
					up := append([]page.LSN(nil), acks...)
					up[i]++
					if DurableLSN(up, 2) < d {
						t.Fatalf("%v -> %v lowered the durable LSN", acks, up)
					}
				}
			}
		}
	}
}

// parseHistory parses "1@64,3@200" into terms.
func parseHistory(t *testing.T, s string) []Term {
	var h []Term
	if s == "-" || s == "" {
		return nil
	}
	for _, f := range strings.Split(s, ",") {
		e, st, ok := strings.Cut(f, "@")
		if !ok {
			t.Fatalf("bad term %q", f)
		}
		ep, err1 := strconv.ParseUint(e, 10, 64)
		lsn, err2 := strconv.ParseUint(st, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad term %q", f)
		}
		h = append(h, Term{Epoch: ep, Start: page.LSN(lsn)})
	}
	return h
}

func formatHistory(h []Term) string {
	var parts []string
	for _, t := range h {
		parts = append(parts, fmt.Sprintf("%d@%d", t.Epoch, t.Start))
	}
	return strings.Join(parts, ",")
}

// TestDataDriven runs testdata/*: durable, agree, choose and cut commands.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "durable":
				var q int
				d.ScanArgs(t, "q", &q)
				var acks []page.LSN
				for _, f := range strings.Fields(d.Input) {
					n, err := strconv.ParseUint(f, 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					acks = append(acks, page.LSN(n))
				}
				return fmt.Sprintf("%d\n", DurableLSN(acks, q))
			case "agree":
				// input: two lines "history end"
				lines := strings.Split(strings.TrimSpace(d.Input), "\n")
				var hs [2][]Term
				var ends [2]page.LSN
				for i := 0; i < 2; i++ {
					f := strings.Fields(lines[i])
					hs[i] = parseHistory(t, f[0])
					n, _ := strconv.ParseUint(f[1], 10, 64)
					ends[i] = page.LSN(n)
				}
				return fmt.Sprintf("%d\n", Agree(hs[0], ends[0], hs[1], ends[1], 64))
			case "choose":
				var rs []Replica
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					f := strings.Fields(line)
					n, _ := strconv.ParseUint(f[1], 10, 64)
					rs = append(rs, Replica{History: parseHistory(t, f[0]), Start: 64, End: page.LSN(n)})
				}
				return fmt.Sprintf("%d\n", Choose(rs))
			case "cut":
				var end, epoch uint64
				d.ScanArgs(t, "end", &end)
				d.ScanArgs(t, "epoch", &epoch)
				h := Cut(parseHistory(t, strings.TrimSpace(d.Input)), page.LSN(end), epoch)
				if err := Validate(h); err != nil {
					return err.Error() + "\n"
				}
				return formatHistory(h) + "\n"
			case "validate":
				if err := Validate(parseHistory(t, strings.TrimSpace(d.Input))); err != nil {
					return err.Error() + "\n"
				}
				return "ok\n"
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

func TestFrom(t *testing.T) {
	h := []Term{{Epoch: 1, Start: 64}, {Epoch: 3, Start: 500}, {Epoch: 4, Start: 900}, {Epoch: 6, Start: 900}}
	for _, tc := range []struct {
		lsn  page.LSN
		want []Term
	}{
		{64, h},
		{10, h},
		{100, []Term{{1, 100}, {3, 500}, {4, 900}, {6, 900}}},
		{500, []Term{{3, 500}, {4, 900}, {6, 900}}},
		{700, []Term{{3, 700}, {4, 900}, {6, 900}}},
		{900, []Term{{6, 900}}},
		{2000, []Term{{6, 2000}}},
	} {
		got := From(h, tc.lsn)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("From(%d) = %v, want %v", tc.lsn, got, tc.want)
			continue
		}
		if err := Validate(got); err != nil {
			t.Errorf("From(%d): %v", tc.lsn, err)
		}
		// Every byte at or after lsn keeps its epoch.
		for x := max(tc.lsn, 64); x < 2100; x += 50 {
			if EpochAt(got, x) != EpochAt(h, x) {
				t.Errorf("From(%d): epoch at %d is %d, was %d", tc.lsn, x, EpochAt(got, x), EpochAt(h, x))
			}
		}
	}
	if From(nil, 100) != nil {
		t.Error("From(nil)")
	}
}
