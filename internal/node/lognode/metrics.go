package lognode

import (
	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/logstore"
	"strata/internal/metrics"
)

// events observes the store's batch latencies in histograms registered in reg (none when reg
// is nil).
func events(reg prometheus.Registerer) logstore.EventListener {
	if reg == nil {
		return logstore.EventListener{}
	}
	wait := metrics.Latency("logstore", "append_wait_seconds",
		"Time from a batch's oldest append to durable: the longest append latency of each batch.")
	sync := metrics.Latency("logstore", "fsync_duration_seconds", "Time of each log data sync.")
	size := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "logstore",
		Name: "batch_bytes", Help: "Bytes made durable by each sync (group commit).",
		Buckets: prometheus.ExponentialBuckets(64, 4, 10)})
	reg.MustRegister(wait, sync, size)
	return logstore.EventListener{BatchDurable: func(i logstore.BatchInfo) {
		wait.Observe(i.Wait.Seconds())
		sync.Observe(i.Sync.Seconds())
		size.Observe(float64(i.Bytes))
	}}
}

// collectors read the store's counters and positions at each scrape: those of timeline 0's
// store s, and the number of other timelines srv holds.
func collectors(s *logstore.Store, srv *logstore.Server) []prometheus.Collector {
	return []prometheus.Collector{
		metrics.GaugeFunc("logstore", "timelines", "Timelines (branches' logs) held besides the main database's.",
			func() float64 { return float64(srv.Timelines()) }),
		metrics.CounterFunc("logstore", "batches_total", "Batches of appends written and synced (failed ones included).",
			func() float64 { return float64(s.Stats().Batches) }),
		metrics.CounterFunc("logstore", "fsyncs_total", "Log data syncs that succeeded.",
			func() float64 { return float64(s.Stats().Fsyncs) }),
		metrics.CounterFunc("logstore", "written_bytes_total", "Log bytes written and synced.",
			func() float64 { return float64(s.Stats().Bytes) }),
		metrics.CounterFunc("logstore", "repairs_total", "Damaged log ranges copied back from a peer.",
			func() float64 { return float64(s.Stats().Repairs) }),
		metrics.GaugeFunc("logstore", "durable_lsn", "End of the store's synced log.",
			func() float64 { return float64(s.Status().Durable) }),
		metrics.GaugeFunc("logstore", "end_lsn", "End of the log bytes the store accepted.",
			func() float64 { return float64(s.Status().End) }),
		metrics.GaugeFunc("logstore", "committed_lsn", "The writer's quorum-durable LSN, as last told to this store.",
			func() float64 { return float64(s.Status().Committed) }),
		metrics.GaugeFunc("logstore", "first_lsn", "First LSN the store retains: the log is truncated below it.",
			func() float64 { return float64(s.Status().First) }),
		metrics.GaugeFunc("logstore", "epoch", "Highest writer epoch the store has promised to follow.",
			func() float64 { return float64(s.Status().Promised) }),
	}
}
