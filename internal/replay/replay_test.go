package replay

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"strata/internal/page"
)

// TestDataDriven runs the scenarios in testdata. Commands:
//
//	new [start=N] [neon]      a Machine at N (default 1000); neon gives it Neon's bug
//	group pages=(3,5)         one group: a record per page (0: no page), the last ends it
//	partial pages=(3)         records of a group that does not end yet
//	abort                     an abort record voiding the open group
//	misfeed lsn=N [abort-from=F]  a record (or abort) the log does not have, to the Machine only
//	fetch page=P              a reader misses P
//	done f=T / fail f=T       the fetch T's page arrives / fails
//	evict page=P              the pool evicts P
//	truncate pages=(3,5)      the Log Stores truncated past a group the RO never read: re-sync
//	acquire / release view=V  a reader takes / ends a view
//	state                     the Machine and the pool
//
// Every record is 16 bytes. After each command the invariants are checked; a violation fails
// the test unless the Machine has Neon's bug, where the scenario shows it.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var e *edge
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "new" && e == nil {
				d.Fatalf(t, "no Machine: start with new")
			}
			out := run(t, &e, d)
			if v := checkInvariants(e); len(v) > 0 {
				if !e.neon {
					t.Errorf("%s: invariants violated:\n%s", d.Pos, strings.Join(v, "\n"))
				}
				out += "VIOLATION: " + strings.Join(v, "\nVIOLATION: ") + "\n"
			}
			return out
		})
	})
}

func run(t *testing.T, ep **edge, d *datadriven.TestData) string {
	e := *ep
	var b strings.Builder
	report := func(err error) {
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
	}
	switch d.Cmd {
	case "new":
		start := 1000
		if d.HasArg("start") {
			d.ScanArgs(t, "start", &start)
		}
		*ep = newEdge(page.LSN(start), d.HasArg("neon"))
		fmt.Fprintf(&b, "view=%d\n", start)
	case "group", "partial":
		pages := pagesArg(t, d)
		for i, pg := range pages {
			r, dec, err := e.record(pg, d.Cmd == "group" && i == len(pages)-1)
			report(err)
			if err == nil {
				describeRecord(&b, r, dec)
			}
		}
	case "abort":
		r, dec, err := e.abort()
		report(err)
		if err == nil {
			fmt.Fprintf(&b, "%d abort: voids the open group\n", r.LSN)
			describeRecord(&b, Rec{LSN: r.LSN, Next: r.Next}, dec)
		}
	case "misfeed":
		// A record the log does not have, straight to the Machine: it must refuse it.
		var lsn int
		d.ScanArgs(t, "lsn", &lsn)
		r := Rec{LSN: page.LSN(lsn), Next: page.LSN(lsn + recSize), Page: 3, GroupEnd: true}
		var err error
		if d.HasArg("abort-from") {
			var from int
			d.ScanArgs(t, "abort-from", &from)
			_, err = e.m.Abort(r, page.LSN(from))
		} else {
			_, err = e.m.Record(r)
		}
		okOr(&b, err)
	case "fetch":
		var pg int
		d.ScanArgs(t, "page", &pg)
		f := e.m.FetchStart(page.ID(pg))
		switch {
		case f.Cached:
			fmt.Fprintf(&b, "p%d is cached: read it from the pool\n", pg)
		case f.Joined:
			fmt.Fprintf(&b, "join f%d: p%d at %d\n", f.Token, pg, f.ReadLSN)
		default:
			fmt.Fprintf(&b, "f%d: read p%d at %d\n", f.Token, pg, f.ReadLSN)
		}
	case "done":
		tok := tokenArg(t, d)
		pg, done, err := e.fetchDone(tok)
		report(err)
		if err == nil {
			fmt.Fprintf(&b, "f%d: apply held %s, %v", tok, lsns(done.Held), done.Outcome)
			if done.Outcome != Retry {
				fmt.Fprintf(&b, "; page has %s", lsns(pg))
			}
			b.WriteString("\n")
		}
	case "fail":
		okOr(&b, e.fetchFailed(tokenArg(t, d)))
	case "evict":
		var pg int
		d.ScanArgs(t, "page", &pg)
		okOr(&b, e.evict(page.ID(pg)))
	case "truncate":
		dec, err := e.truncate([][]page.ID{pagesArg(t, d)})
		report(err)
		if err == nil {
			fmt.Fprintf(&b, "resync=%v view=%d\n", dec.Resync, dec.View)
		}
	case "acquire":
		fmt.Fprintf(&b, "view=%d\n", e.m.Acquire())
	case "release":
		var v int
		d.ScanArgs(t, "view", &v)
		report(e.m.Release(page.LSN(v)))
		fmt.Fprintf(&b, "oldest=%d\n", e.m.Oldest())
	case "oldest":
		fmt.Fprintf(&b, "oldest=%d\n", e.m.Oldest())
	case "state":
		b.WriteString(e.describe())
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	return b.String()
}

func okOr(b *strings.Builder, err error) {
	if err != nil {
		fmt.Fprintf(b, "error: %v\n", err)
	} else {
		b.WriteString("ok\n")
	}
}

func describeRecord(b *strings.Builder, r Rec, d Decision) {
	if r.Page != page.Invalid {
		fmt.Fprintf(b, "%d p%d: %v\n", r.LSN, r.Page, d.Action)
	} else if r.GroupEnd {
		fmt.Fprintf(b, "%d end\n", r.LSN)
	} else {
		fmt.Fprintf(b, "%d no page\n", r.LSN)
	}
	if d.Publish {
		if len(d.Steps) > 0 {
			fmt.Fprintf(b, "  steps %s\n", steps(d.Steps))
		}
		fmt.Fprintf(b, "  publish view=%d\n", d.View)
	}
}

func pagesArg(t *testing.T, d *datadriven.TestData) []page.ID {
	var ps []int
	d.ScanArgs(t, "pages", &ps)
	out := make([]page.ID, len(ps))
	for i, p := range ps {
		out[i] = page.ID(p)
	}
	return out
}

func tokenArg(t *testing.T, d *datadriven.TestData) Token {
	var f int
	d.ScanArgs(t, "f", &f)
	return Token(f)
}
