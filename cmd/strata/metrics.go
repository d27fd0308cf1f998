package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"strata/internal/engine"
	"strata/internal/metrics"
	"strata/internal/pagestore"
	"strata/internal/sqlstore"
	"strata/internal/wal"
)

// defaultMetricsAddr is where a node serves /metrics unless told otherwise: a free loopback
// port, published in the control plane (`strata ctl status` lists it).
const defaultMetricsAddr = "127.0.0.1:0"

func addMetricsFlag(fs *pflag.FlagSet, addr *string) {
	fs.StringVar(addr, "metrics-addr", defaultMetricsAddr,
		"address to serve Prometheus metrics on, at /metrics (port 0: any free port; empty: none); beyond loopback a scrape must carry the cluster secret as a bearer token")
}

// nodeMetrics starts a node's metrics server on addr ("": none, and nil) with the Go runtime
// and process collectors; the node registers its own collectors on the returned registry.
func nodeMetrics(addr, secret string, lg *slog.Logger) (*metrics.Server, *prometheus.Registry, error) {
	reg := metrics.NewRegistry()
	if addr == "" {
		return nil, reg, nil
	}
	srv, err := metrics.Listen(metrics.Options{Addr: addr, Gatherer: reg, Secret: secret, Logger: lg})
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	lg.Info("serving metrics", "addr", "http://"+srv.Addr()+"/metrics")
	return srv, reg, nil
}

// registererOf is reg when srv serves it, nil otherwise (nothing to count for).
func registererOf(srv *metrics.Server, reg *prometheus.Registry) prometheus.Registerer {
	if srv == nil {
		return nil
	}
	return reg
}

// metricsAddrOf is srv's address, or "" for no server.
func metricsAddrOf(srv *metrics.Server) string {
	if srv == nil {
		return ""
	}
	return srv.Addr()
}

func counterFunc(sub, name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: sub, Name: name, Help: help}, f)
}

func gaugeFunc(sub, name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: sub, Name: name, Help: help}, f)
}

// engineCollectors read a compute node's engine counters at each scrape: nothing is added to
// the paths they count.
func engineCollectors(db *engine.DB) []prometheus.Collector {
	return []prometheus.Collector{
		gaugeFunc("bufpool", "frames", "Buffer pool size in 16 KiB frames.",
			func() float64 { return float64(db.Pool().Stats().Frames) }),
		counterFunc("bufpool", "misses_total", "Page reads that missed the buffer pool.",
			func() float64 { return float64(db.Pool().Stats().Misses) }),
		counterFunc("bufpool", "evictions_total", "Pages evicted from the buffer pool.",
			func() float64 { return float64(db.Pool().Stats().Evictions) }),
		gaugeFunc("lock", "held", "Row locks granted and held.",
			func() float64 { return float64(db.Locks().Stats().Held) }),
		gaugeFunc("lock", "waiting", "Row lock requests waiting.",
			func() float64 { return float64(db.Locks().Stats().Waiting) }),
		counterFunc("lock", "deadlocks_total", "Row lock requests failed as deadlocks (MySQL error 1213).",
			func() float64 { return float64(db.Locks().Stats().Deadlocks) }),
		counterFunc("lock", "timeouts_total", "Row lock requests failed by innodb_lock_wait_timeout (MySQL error 1205).",
			func() float64 { return float64(db.Locks().Stats().Timeouts) }),
		gaugeFunc("engine", "visible_lsn", "LSN up to which commits are visible to new transactions.",
			func() float64 { return float64(db.VisibleLSN()) }),
		gaugeFunc("engine", "purge_horizon_lsn", "Oldest LSN a snapshot may still read: versions below it are purged.",
			func() float64 { return float64(db.Horizon()) }),
	}
}

// walCollectors read a local redo log's counters (`strata up --single`).
func walCollectors(l *wal.Log) []prometheus.Collector {
	return []prometheus.Collector{
		counterFunc("wal", "appends_total", "Log appends that added bytes or ended a group.",
			func() float64 { return float64(l.Stats().Appends) }),
		counterFunc("wal", "fsyncs_total", "Log file and directory syncs.",
			func() float64 { return float64(l.Stats().Fsyncs) }),
		counterFunc("wal", "written_bytes_total", "Log bytes written to segment files.",
			func() float64 { return float64(l.Stats().BytesWritten) }),
		gaugeFunc("wal", "durable_lsn", "End of the durable log.",
			func() float64 { return float64(l.Durable()) }),
	}
}

// pageStoreCollectors read a Page Store's counters.
func pageStoreCollectors(s *pagestore.Store) []prometheus.Collector {
	return []prometheus.Collector{
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
	}
}

// statementObserver counts the statements clients run, their errors and their latency, by
// kind (sqlstore.StatementKinds), in reg.
func statementObserver(reg prometheus.Registerer) sqlstore.StatementObserver {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "sql",
		Name: "statements_total", Help: "Statements run by clients, by kind (first keyword)."}, []string{"kind"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "sql",
		Name: "statement_errors_total", Help: "Statements that returned an error to the client, by kind."}, []string{"kind"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "sql",
		Name: "statement_duration_seconds", Help: "Time from a statement's arrival to its last result row, by kind.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20)}, []string{"kind"})
	reg.MustRegister(total, errs, dur)
	type kind struct {
		total, errs prometheus.Counter
		dur         prometheus.Observer
	}
	kinds := make(map[string]kind, len(sqlstore.StatementKinds))
	for _, k := range sqlstore.StatementKinds {
		kinds[k] = kind{total.WithLabelValues(k), errs.WithLabelValues(k), dur.WithLabelValues(k)}
	}
	return func(k string, d time.Duration, err error) {
		m, ok := kinds[k]
		if !ok {
			m = kinds["other"]
		}
		m.total.Inc()
		m.dur.Observe(d.Seconds())
		if err != nil {
			m.errs.Inc()
		}
	}
}

// planCacheCollectors read the prepared-statement plan cache's counters.
func planCacheCollectors(st *sqlstore.Store) []prometheus.Collector {
	return []prometheus.Collector{
		counterFunc("sql", "plan_cache_hits_total", "Prepared statement executions that reused an analysed plan.",
			func() float64 { return float64(st.PreparedStats().Hits) }),
		counterFunc("sql", "plan_cache_builds_total", "Prepared statement plans analysed for reuse.",
			func() float64 { return float64(st.PreparedStats().Builds) }),
		counterFunc("sql", "plan_cache_fallbacks_total", "Prepared statement executions analysed anew (no reusable plan).",
			func() float64 { return float64(st.PreparedStats().Fallbacks) }),
	}
}
