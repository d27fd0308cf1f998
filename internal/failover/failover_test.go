package failover

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestScenarios runs the scenario files in testdata. Times are milliseconds from an origin.
// Commands:
//
//	watcher self=ID lease=MS [grace=MS]            a new watcher
//	observe now=MS epoch=N [request=ID|*] [holder=ID,EPOCH,MS]
//	                                               the watcher's decision; input: node lines
//	best                                           the candidate; input: node lines
//	start self=ID now=MS epoch=N grace=MS [holder=ID,EPOCH,MS]
//	                                               StartRole; input: node lines
//
// A node line is "ID ROLE STATE [down] [epoch=N] [applied=N] [updated=MS]"; updated defaults
// to now.
func TestScenarios(t *testing.T) {
	origin := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return origin.Add(time.Duration(ms) * time.Millisecond) }
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var w *Watcher
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			snap := func() Snapshot {
				var now, epoch int
				td.ScanArgs(t, "now", &now)
				td.ScanArgs(t, "epoch", &epoch)
				var blind int
				if td.HasArg("blind") {
					td.ScanArgs(t, "blind", &blind)
				}
				s := Snapshot{Now: at(now), Epoch: uint64(epoch), Nodes: nodes(t, td.Input, at, now),
					Blind: time.Duration(blind) * time.Millisecond}
				if td.HasArg("holder") {
					var id string
					var e, ms int
					td.ScanArgs(t, "holder", &id, &e, &ms)
					s.Holder = Holder{ID: id, Epoch: uint64(e), At: at(ms)}
				}
				if td.HasArg("request") {
					var target string
					td.ScanArgs(t, "request", &target)
					if target == "*" {
						target = ""
					}
					s.Request = &Request{Epoch: uint64(epoch), Target: target}
				}
				return s
			}
			switch td.Cmd {
			case "watcher":
				var self string
				var lease, grace int
				td.ScanArgs(t, "self", &self)
				td.ScanArgs(t, "lease", &lease)
				if td.HasArg("grace") {
					td.ScanArgs(t, "grace", &grace)
				}
				var quick int
				if td.HasArg("quick") {
					td.ScanArgs(t, "quick", &quick)
				}
				w = &Watcher{Self: self, Lease: time.Duration(lease) * time.Millisecond, Grace: time.Duration(grace) * time.Millisecond,
					QuickLease: time.Duration(quick) * time.Millisecond}
				return "ok\n"
			case "observe":
				return w.Observe(snap()).String() + "\n"
			case "best":
				n, ok := Best(nodes(t, td.Input, at, 0))
				if !ok {
					return "none\n"
				}
				return n.ID + "\n"
			case "start":
				var self string
				var grace int
				td.ScanArgs(t, "self", &self)
				td.ScanArgs(t, "grace", &grace)
				st, why := StartRole(self, snap(), time.Duration(grace)*time.Millisecond)
				name := map[Start]string{RunRW: "run-rw", JoinRO: "join-ro"}[st]
				return name + ": " + why + "\n"
			default:
				t.Fatalf("unknown command %q", td.Cmd)
				return ""
			}
		})
	})
}

func nodes(t *testing.T, input string, at func(int) time.Time, now int) []Node {
	t.Helper()
	var out []Node
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			t.Fatalf("node line %q: want ID ROLE STATE", line)
		}
		n := Node{ID: f[0], Role: f[1], State: f[2], Down: f[2] == "down", Updated: at(now)}
		if n.Down {
			n.Updated = time.Time{} // a member without a live node: no status
		}
		for _, a := range f[3:] {
			if a == "down" {
				n.Down = true
				continue
			}
			if a == "refused" {
				n.Refused = true
				continue
			}
			k, v, ok := strings.Cut(a, "=")
			x, err := strconv.Atoi(v)
			if !ok || err != nil {
				t.Fatalf("node line %q: bad %q", line, a)
			}
			switch k {
			case "epoch":
				n.Epoch = uint64(x)
			case "applied":
				n.Applied = uint64(x)
			case "updated":
				n.Updated = at(x)
			default:
				t.Fatalf("node line %q: unknown %q", line, k)
			}
		}
		out = append(out, n)
	}
	return out
}
