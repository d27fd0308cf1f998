package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/logstore"
	"strata/internal/metrics"
	"strata/internal/pagestore"
	"strata/internal/storage"
)

// logStoreEvents observes a Log Store's batch latencies in histograms registered in reg (none
// when reg is nil).
func logStoreEvents(reg prometheus.Registerer) logstore.EventListener {
	if reg == nil {
		return logstore.EventListener{}
	}
	wait := histogram("logstore", "append_wait_seconds",
		"Time from a batch's oldest append to durable: the longest append latency of each batch.")
	sync := histogram("logstore", "fsync_duration_seconds", "Time of each log data sync.")
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

// logStoreCollectors read a Log Store's counters and positions.
func logStoreCollectors(s *logstore.Store) []prometheus.Collector {
	return []prometheus.Collector{
		counterFunc("logstore", "batches_total", "Batches of appends written and synced (failed ones included).",
			func() float64 { return float64(s.Stats().Batches) }),
		counterFunc("logstore", "fsyncs_total", "Log data syncs that succeeded.",
			func() float64 { return float64(s.Stats().Fsyncs) }),
		counterFunc("logstore", "written_bytes_total", "Log bytes written and synced.",
			func() float64 { return float64(s.Stats().Bytes) }),
		counterFunc("logstore", "repairs_total", "Damaged log ranges copied back from a peer.",
			func() float64 { return float64(s.Stats().Repairs) }),
		gaugeFunc("logstore", "durable_lsn", "End of the store's synced log.",
			func() float64 { return float64(s.Status().Durable) }),
		gaugeFunc("logstore", "end_lsn", "End of the log bytes the store accepted.",
			func() float64 { return float64(s.Status().End) }),
		gaugeFunc("logstore", "committed_lsn", "The writer's quorum-durable LSN, as last told to this store.",
			func() float64 { return float64(s.Status().Committed) }),
		gaugeFunc("logstore", "first_lsn", "First LSN the store retains: the log is truncated below it.",
			func() float64 { return float64(s.Status().First) }),
		gaugeFunc("logstore", "epoch", "Highest writer epoch the store has promised to follow.",
			func() float64 { return float64(s.Status().Promised) }),
	}
}

// pageStoreEvents observes a Page Store's GetPage latency in a histogram registered in reg
// (none when reg is nil).
func pageStoreEvents(reg prometheus.Registerer) pagestore.EventListener {
	if reg == nil {
		return pagestore.EventListener{}
	}
	h := histogram("pagestore", "getpage_duration_seconds",
		"GetPage latency, including the wait for the store to reach the asked LSN.")
	reg.MustRegister(h)
	return pagestore.EventListener{GetPage: func(i pagestore.GetPageInfo) { h.Observe(i.Duration.Seconds()) }}
}

// pageStoreCollectors read a Page Store's counters, positions, segments and pebble's metrics;
// log (nil: none) is the log it consumes, for its lag.
func pageStoreCollectors(s *pagestore.Store, log storage.LogReader, lg *slog.Logger) []prometheus.Collector {
	cs := []prometheus.Collector{
		counterFunc("pagestore", "records_total", "Redo records (page deltas) persisted.",
			func() float64 { return float64(s.Stats().Records) }),
		counterFunc("pagestore", "images_total", "Page images materialised.",
			func() float64 { return float64(s.Stats().Images) }),
		counterFunc("pagestore", "getpage_total", "GetPage calls served.",
			func() float64 { return float64(s.Stats().GetPages) }),
		counterFunc("pagestore", "compacted_versions_total", "Page versions (deltas and images) removed by compaction.",
			func() float64 { return float64(s.Stats().Compacted) }),
		gaugeFunc("pagestore", "consumed_lsn", "LSN up to which the store has consumed the log.",
			func() float64 { return float64(s.Consumed()) }),
		gaugeFunc("pagestore", "persisted_lsn", "LSN up to which the store's pages are durable.",
			func() float64 { return float64(s.Persisted()) }),
		gaugeFunc("pagestore", "segments", "Segments the store keeps (0 with every segment: a store that keeps them all).",
			func() float64 { _, owned := s.Segments(); return float64(len(owned)) }),
		gaugeFunc("pagestore", "copying_segments", "Segments being copied from a peer.",
			func() float64 { return float64(len(s.Copying())) }),
		gaugeFunc("pagestore", "copy_remaining_pages", "Pages announced by peers and not yet copied, over the segments being copied.",
			func() float64 {
				n := 0
				for _, c := range s.Copying() {
					n += max(c.Total-c.Copied, 0)
				}
				return float64(n)
			}),
		pebbleCollector{s: s, lg: lg},
	}
	if log != nil {
		cs = append(cs, gaugeFunc("pagestore", "lag_bytes", "Durable log bytes the store has not consumed yet.",
			func() float64 { return float64(log.Durable() - min(log.Durable(), s.Consumed())) }))
	}
	return cs
}
