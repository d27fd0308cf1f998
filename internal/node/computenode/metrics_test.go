package computenode

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/engine"
)

// TestStatementObserverCounts: a statement is counted under its kind, an unknown kind under
// "other", an error under its kind's errors, and every one in the latency histogram.
func TestStatementObserverCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs := statementObserver(reg)
	obs("select", time.Millisecond, nil)
	obs("select", 2*time.Millisecond, errors.New("no such table"))
	obs("frobnicate", time.Millisecond, nil)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			kind := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					kind = l.GetValue()
				}
			}
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()+"/"+kind] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()+"/"+kind] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	if len(got) == 0 {
		t.Fatal("no statement series")
	}
	for k, want := range map[string]float64{
		"strata_sql_statements_total/select": 2, "strata_sql_statement_errors_total/select": 1,
		"strata_sql_statements_total/other": 1, "strata_sql_statement_duration_seconds/select": 2,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

// BenchmarkStatementObserver is what metrics add to every statement a client runs (beside
// the two time.Now calls of the caller): compare it with a point select's 70–100 µs.
func BenchmarkStatementObserver(b *testing.B) {
	obs := statementObserver(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			obs("select", 80*time.Microsecond, nil)
		}
	})
}

// BenchmarkCommitEvents is what metrics add to every commit that wrote: compare it with a
// durable commit's 0.5–2 ms.
func BenchmarkCommitEvents(b *testing.B) {
	ev := CommitEvents(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			began := time.Now()
			ev.CommitEnd(engine.CommitInfo{Duration: time.Since(began), Rows: 2})
		}
	})
}

// TestCommitEvents: every commit's latency goes in the commit histogram; the writer lock's
// wait and the apply only for a commit whose group reached the log.
func TestCommitEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := CommitEvents(reg)
	l.CommitEnd(engine.CommitInfo{Duration: 3 * time.Millisecond, WriterWait: time.Millisecond, Apply: time.Millisecond, Rows: 1})
	l.CommitEnd(engine.CommitInfo{Duration: time.Millisecond, Rows: 1, Err: errors.New("the log failed")})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetHistogram().GetSampleCount()
	}
	want := map[string]uint64{"strata_engine_commit_duration_seconds": 2,
		"strata_engine_commit_writer_wait_seconds": 1, "strata_engine_commit_apply_seconds": 1}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d observations, want %d (all: %v)", name, got[name], n, got)
		}
	}
}
