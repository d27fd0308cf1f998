package pagenode

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/metrics"
	"strata/internal/pagestore"
	"strata/internal/storage"
)

// Events observes a Page Store's GetPage latency in a histogram registered in reg
// (none when reg is nil).
func Events(reg prometheus.Registerer) pagestore.EventListener {
	if reg == nil {
		return pagestore.EventListener{}
	}
	h := metrics.Latency("pagestore", "getpage_duration_seconds",
		"GetPage latency, including the wait for the store to reach the asked LSN.")
	reg.MustRegister(h)
	return pagestore.EventListener{GetPage: func(i pagestore.GetPageInfo) { h.Observe(i.Duration.Seconds()) }}
}

// Collectors read a Page Store's counters, positions, segments and pebble's metrics;
// log (nil: none) is the log it consumes, for its lag.
func Collectors(s *pagestore.Store, log storage.LogReader, lg *slog.Logger) []prometheus.Collector {
	cs := []prometheus.Collector{
		metrics.CounterFunc("pagestore", "records_total", "Redo records (page deltas) persisted.",
			func() float64 { return float64(s.Stats().Records) }),
		metrics.CounterFunc("pagestore", "images_total", "Page images materialised.",
			func() float64 { return float64(s.Stats().Images) }),
		metrics.CounterFunc("pagestore", "getpage_total", "GetPage calls served.",
			func() float64 { return float64(s.Stats().GetPages) }),
		metrics.CounterFunc("pagestore", "compacted_versions_total", "Page versions (deltas and images) removed by compaction.",
			func() float64 { return float64(s.Stats().Compacted) }),
		metrics.GaugeFunc("pagestore", "consumed_lsn", "LSN up to which the store has consumed the log.",
			func() float64 { return float64(s.Consumed()) }),
		metrics.GaugeFunc("pagestore", "persisted_lsn", "LSN up to which the store's pages are durable.",
			func() float64 { return float64(s.Persisted()) }),
		metrics.GaugeFunc("pagestore", "segments", "Segments the store keeps (0 with every segment: a store that keeps them all).",
			func() float64 { _, owned := s.Segments(); return float64(len(owned)) }),
		metrics.GaugeFunc("pagestore", "copying_segments", "Segments being copied from a peer.",
			func() float64 { return float64(len(s.Copying())) }),
		metrics.GaugeFunc("pagestore", "copy_remaining_pages", "Pages announced by peers and not yet copied, over the segments being copied.",
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
		cs = append(cs, metrics.GaugeFunc("pagestore", "lag_bytes", "Durable log bytes the store has not consumed yet.",
			func() float64 { return float64(log.Durable() - min(log.Durable(), s.Consumed())) }))
	}
	return cs
}
