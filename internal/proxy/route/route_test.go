package route

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestScenarios runs the scenario files in testdata. Commands:
//
//	new [consistency=session|eventual|global]   a new session
//	route                                       route the input; leaves it pending
//	done [err=CODE] [completed=N] [lsn=N] [status=in-trans,autocommit|none] [durable=N]
//	exec [same arguments as done]               route the input, then done
//	prepare-binary id=N / execute-binary id=N / close-binary id=N
//	choose [durable=N]                          Choose for the last decision; input: "id applied in-flight [last]" lines
//	replay rw|ro / state / failover / reset
//
// route and exec print the decision; done, exec, failover and reset print the state lines
// that changed (- before, + after).
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := NewSession(NewConfig(SessionConsistency))
		var last Decision
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			var out strings.Builder
			step := func(f func()) {
				before := s.Describe()
				f()
				out.WriteString(diff(before, s.Describe()))
			}
			switch td.Cmd {
			case "new":
				c := SessionConsistency
				if td.HasArg("consistency") {
					var v string
					td.ScanArgs(t, "consistency", &v)
					var err error
					if c, err = ParseConsistency(v); err != nil {
						t.Fatal(err)
					}
				}
				s = NewSession(NewConfig(c))
				return strings.Join(s.Describe(), "\n") + "\n"
			case "route":
				last = s.Route(td.Input)
				return last.String() + "\n"
			case "done":
				step(func() { s.Done(result(t, td)) })
			case "exec":
				last = s.Route(td.Input)
				out.WriteString(last.String() + "\n")
				step(func() { s.Done(result(t, td)) })
			case "prepare-binary", "execute-binary":
				var id int
				td.ScanArgs(t, "id", &id)
				if td.Cmd == "prepare-binary" {
					last = s.PrepareBinary(uint32(id), td.Input)
				} else {
					last = s.ExecuteBinary(uint32(id))
				}
				return last.String() + "\n"
			case "close-binary":
				var id int
				td.ScanArgs(t, "id", &id)
				step(func() { s.CloseBinary(uint32(id)) })
			case "choose":
				var durable uint64
				if td.HasArg("durable") {
					td.ScanArgs(t, "durable", &durable)
				}
				c := Choose(last, LSN(durable), backends(t, td.Input))
				return fmt.Sprintf("index=%d need=%d wait=%t\n", c.Index, c.Need, c.Wait)
			case "replay":
				target := RW
				if len(td.CmdArgs) > 0 && td.CmdArgs[0].Key == "ro" {
					target = RO
				}
				r := s.Replay(target)
				if len(r) == 0 {
					return "(nothing)\n"
				}
				return strings.Join(r, "\n") + "\n"
			case "state":
				return strings.Join(s.Describe(), "\n") + "\n"
			case "failover":
				step(func() {
					r := s.Failover()
					fmt.Fprintf(&out, "rolled-back=%t lost=[%s]\n", r.RolledBack, strings.Join(r.Lost, "; "))
				})
			case "reset":
				step(s.Reset)
			default:
				t.Fatalf("unknown command %q", td.Cmd)
			}
			if out.Len() == 0 {
				return "(no change)\n"
			}
			return out.String()
		})
	})
}

// result reads done's arguments.
func result(t *testing.T, td *datadriven.TestData) Result {
	r := Result{OK: true}
	for _, a := range td.CmdArgs {
		v := ""
		if len(a.Vals) > 0 {
			v = a.Vals[0]
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		switch a.Key {
		case "err":
			r.OK, r.ErrCode = false, uint16(n)
		case "completed":
			r.Completed = int(n)
		case "lsn":
			r.CommitLSN = LSN(n)
		case "durable":
			r.DurableLSN = LSN(n)
		case "status":
			r.HasStatus = true
			for _, f := range strings.Split(strings.Join(a.Vals, ","), ",") {
				switch f {
				case "in-trans":
					r.Status |= StatusInTrans
				case "autocommit":
					r.Status |= StatusAutocommit
				case "none":
				default:
					t.Fatalf("unknown status flag %q", f)
				}
			}
		default:
			t.Fatalf("unknown argument %q", a.Key)
		}
	}
	return r
}

// backends reads "id applied in-flight" lines.
func backends(t *testing.T, input string) []Backend {
	var bs []Backend
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		var b Backend
		var applied uint64
		if line == "" {
			continue
		}
		if _, err := fmt.Sscan(line, &b.ID, &applied, &b.InFlight); err != nil {
			t.Fatalf("backend %q: %v", line, err)
		}
		b.Applied = LSN(applied)
		b.Last = strings.HasSuffix(line, " last")
		bs = append(bs, b)
	}
	return bs
}

// diff prints the lines removed from before and added in after.
func diff(before, after []string) string {
	in := func(l []string, x string) bool {
		for _, y := range l {
			if x == y {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	for _, x := range before {
		if !in(after, x) {
			b.WriteString("- " + x + "\n")
		}
	}
	for _, x := range after {
		if !in(before, x) {
			b.WriteString("+ " + x + "\n")
		}
	}
	return b.String()
}
