package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"strata/internal/engine"
	"strata/internal/metrics"
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
		counterFunc("bufpool", "hits_total", "Page reads that found the page in the buffer pool.",
			func() float64 { return float64(db.Pool().Stats().Hits) }),
		counterFunc("bufpool", "misses_total", "Page reads that missed the buffer pool.",
			func() float64 { return float64(db.Pool().Stats().Misses) }),
		counterFunc("bufpool", "evictions_total", "Pages evicted from the buffer pool.",
			func() float64 { return float64(db.Pool().Stats().Evictions) }),
		gaugeFunc("lock", "held", "Row locks granted and held.",
			func() float64 { return float64(db.Locks().Stats().Held) }),
		gaugeFunc("lock", "waiting", "Row lock requests waiting.",
			func() float64 { return float64(db.Locks().Stats().Waiting) }),
		counterFunc("lock", "waits_total", "Row lock requests that had to wait.",
			func() float64 { return float64(db.Locks().Stats().Waits) }),
		counterFunc("lock", "wait_seconds_total", "Time row lock requests spent waiting.",
			func() float64 { return db.Locks().Stats().WaitTime.Seconds() }),
		counterFunc("lock", "deadlocks_total", "Row lock requests failed as deadlocks (MySQL error 1213).",
			func() float64 { return float64(db.Locks().Stats().Deadlocks) }),
		counterFunc("lock", "timeouts_total", "Row lock requests failed by innodb_lock_wait_timeout (MySQL error 1205).",
			func() float64 { return float64(db.Locks().Stats().Timeouts) }),
		gaugeFunc("engine", "visible_lsn", "LSN up to which commits are visible to new transactions.",
			func() float64 { return float64(db.VisibleLSN()) }),
		counterFunc("engine", "commits_total", "Commits of transactions that wrote, made durable.",
			func() float64 { return float64(db.Stats().Commits) }),
		counterFunc("engine", "commit_errors_total", "Commits of transactions that wrote that failed or were left in doubt.",
			func() float64 { return float64(db.Stats().CommitErrors) }),
		counterFunc("engine", "rollbacks_total", "Transactions that wrote and were rolled back.",
			func() float64 { return float64(db.Stats().Rollbacks) }),
		counterFunc("engine", "rows_written_total", "Rows written by durable commits.",
			func() float64 { return float64(db.Stats().RowsWritten) }),
		gaugeFunc("engine", "purge_backlog", "Keys whose old versions wait for the purge.",
			func() float64 { return float64(db.Stats().PurgeBacklog) }),
		gaugeFunc("engine", "purge_horizon_lsn", "Oldest LSN a snapshot may still read: versions below it are purged.",
			func() float64 { return float64(db.Horizon()) }),
	}
}

// latencyBuckets are the buckets of every latency histogram: 50 µs to about 26 s.
func latencyBuckets() []float64 { return prometheus.ExponentialBuckets(0.00005, 2, 20) }

func histogram(sub, name, help string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: sub,
		Name: name, Help: help, Buckets: latencyBuckets()})
}

// commitEvents observes the engine's commit latency in a histogram registered in reg (none
// when reg is nil).
func commitEvents(reg prometheus.Registerer) engine.EventListener {
	if reg == nil {
		return engine.EventListener{}
	}
	h := histogram("engine", "commit_duration_seconds",
		"Commit latency of transactions that wrote: applying the write set and waiting for the log to make it durable.")
	reg.MustRegister(h)
	return engine.EventListener{CommitEnd: func(i engine.CommitInfo) { h.Observe(i.Duration.Seconds()) }}
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

// statementObserver counts the statements clients run, their errors and their latency, by
// kind (sqlstore.StatementKinds), in reg.
func statementObserver(reg prometheus.Registerer) sqlstore.StatementObserver {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "sql",
		Name: "statements_total", Help: "Statements run by clients, by kind (first keyword)."}, []string{"kind"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "sql",
		Name: "statement_errors_total", Help: "Statements that returned an error to the client, by kind."}, []string{"kind"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "sql",
		Name: "statement_duration_seconds", Help: "Time from a statement's arrival to its last result row, by kind.",
		Buckets: latencyBuckets()}, []string{"kind"})
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
