package pagenode

import (
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/metrics"
	"strata/internal/pagestore"
)

// pebbleCollector exports the metrics of the pebble database under a Page Store, read once per
// scrape.
type pebbleCollector struct {
	s  *pagestore.Store
	lg *slog.Logger
}

type pebbleMetric struct {
	name, help string
	kind       prometheus.ValueType
	value      func(m *pebble.Metrics) float64
}

// pebbleMetrics lists what the collector exports.
func pebbleMetrics() []pebbleMetric {
	c, g := prometheus.CounterValue, prometheus.GaugeValue
	return []pebbleMetric{
		{"disk_usage_bytes", "Disk space used by the store's pebble database.", g,
			func(m *pebble.Metrics) float64 { return float64(m.DiskSpaceUsage()) }},
		{"read_amp", "Read amplification: sublevels of L0 plus non-empty levels below.", g,
			func(m *pebble.Metrics) float64 { return float64(m.ReadAmp()) }},
		{"compactions_total", "Compactions run.", c,
			func(m *pebble.Metrics) float64 { return float64(m.Compact.Count) }},
		{"compaction_debt_bytes", "Estimated bytes to compact to reach a stable shape.", g,
			func(m *pebble.Metrics) float64 { return float64(m.Compact.EstimatedDebt) }},
		{"flushes_total", "Memtable flushes.", c,
			func(m *pebble.Metrics) float64 { return float64(m.Flush.Count) }},
		{"memtable_bytes", "Bytes allocated by memtables.", g,
			func(m *pebble.Metrics) float64 { return float64(m.MemTable.Size) }},
		{"block_cache_hits_total", "Block cache hits.", c,
			func(m *pebble.Metrics) float64 { return float64(m.BlockCache.Hits) }},
		{"block_cache_misses_total", "Block cache misses.", c,
			func(m *pebble.Metrics) float64 { return float64(m.BlockCache.Misses) }},
		{"block_cache_bytes", "Bytes in the block cache.", g,
			func(m *pebble.Metrics) float64 { return float64(m.BlockCache.Size) }},
		{"wal_written_bytes_total", "Bytes written to pebble's write-ahead log.", c,
			func(m *pebble.Metrics) float64 { return float64(m.WAL.BytesWritten) }},
		{"flushed_bytes_total", "Bytes of sstables written by memtable flushes.", c,
			func(m *pebble.Metrics) float64 { return float64(m.Total().TableBytesFlushed) }},
		{"compacted_bytes_total", "Bytes of sstables written by compactions: over flushed bytes, the write amplification.", c,
			func(m *pebble.Metrics) float64 { return float64(m.Total().TableBytesCompacted) }},
		{"tables", "Live sstables, over all levels.", g,
			func(m *pebble.Metrics) float64 { return float64(m.Total().TablesCount) }},
	}
}

func (pm pebbleMetric) desc() *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, "pebble", pm.name), pm.help, nil, nil)
}

// Describe implements prometheus.Collector.
func (c pebbleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, pm := range pebbleMetrics() {
		ch <- pm.desc()
	}
}

// Collect implements prometheus.Collector. A closed store exports nothing.
func (c pebbleCollector) Collect(ch chan<- prometheus.Metric) {
	m, err := c.s.PebbleMetrics()
	if err != nil {
		c.lg.Debug("pebble metrics", "err", err)
		return
	}
	for _, pm := range pebbleMetrics() {
		ch <- prometheus.MustNewConstMetric(pm.desc(), pm.kind, pm.value(m))
	}
}
