package computenode

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/diskcache"
	"strata/internal/engine"
	"strata/internal/metrics"
	"strata/internal/sqlstore"
)

// EngineCollectors read an engine's counters (commits, buffer pool, row locks, purge) at each
// scrape: nothing is added to the paths they count.
func EngineCollectors(db *engine.DB) []prometheus.Collector {
	c, g := metrics.CounterFunc, metrics.GaugeFunc
	return []prometheus.Collector{
		g("bufpool", "frames", "Buffer pool size in 16 KiB frames.",
			func() float64 { return float64(db.Pool().Stats().Frames) }),
		c("bufpool", "hits_total", "Page reads that found the page in the buffer pool.",
			func() float64 { return float64(db.Pool().Stats().Hits) }),
		c("bufpool", "misses_total", "Page reads that missed the buffer pool.",
			func() float64 { return float64(db.Pool().Stats().Misses) }),
		c("bufpool", "evictions_total", "Pages evicted from the buffer pool.",
			func() float64 { return float64(db.Pool().Stats().Evictions) }),
		c("bufpool", "prefetched_total", "Misses read ahead of their readers, in parallel (the leaves of a batch of join lookups); counted in misses_total too.",
			func() float64 { return float64(db.Pool().Stats().Prefetched) }),
		c("bufpool", "second_tier_hits_total", "Misses read from the second-tier page cache on local disk instead of a Page Store; counted in misses_total too.",
			func() float64 { return float64(db.Pool().Stats().SecondTierHits) }),
		g("lock", "held", "Row locks granted and held.",
			func() float64 { return float64(db.Locks().Stats().Held) }),
		g("lock", "waiting", "Row lock requests waiting.",
			func() float64 { return float64(db.Locks().Stats().Waiting) }),
		c("lock", "waits_total", "Row lock requests that had to wait.",
			func() float64 { return float64(db.Locks().Stats().Waits) }),
		c("lock", "wait_seconds_total", "Time row lock requests spent waiting.",
			func() float64 { return db.Locks().Stats().WaitTime.Seconds() }),
		c("lock", "deadlocks_total", "Row lock requests failed as deadlocks (MySQL error 1213).",
			func() float64 { return float64(db.Locks().Stats().Deadlocks) }),
		c("lock", "timeouts_total", "Row lock requests failed by innodb_lock_wait_timeout (MySQL error 1205).",
			func() float64 { return float64(db.Locks().Stats().Timeouts) }),
		c("engine", "commits_total", "Commits of transactions that wrote, made durable.",
			func() float64 { return float64(db.Stats().Commits) }),
		c("engine", "commit_errors_total", "Commits of transactions that wrote that failed or were left in doubt.",
			func() float64 { return float64(db.Stats().CommitErrors) }),
		c("engine", "rollbacks_total", "Transactions that wrote and were rolled back.",
			func() float64 { return float64(db.Stats().Rollbacks) }),
		c("engine", "rows_written_total", "Rows written by durable commits.",
			func() float64 { return float64(db.Stats().RowsWritten) }),
		g("engine", "purge_backlog", "Keys whose old versions wait for the purge.",
			func() float64 { return float64(db.Stats().PurgeBacklog) }),
		g("engine", "visible_lsn", "LSN up to which commits are visible to new transactions.",
			func() float64 { return float64(db.VisibleLSN()) }),
		g("engine", "purge_horizon_lsn", "Oldest LSN a snapshot may still read: versions below it are purged.",
			func() float64 { return float64(db.Horizon()) }),
	}
}

// DiskCacheCollectors read the second-tier page cache's counters at each scrape.
func DiskCacheCollectors(dc *diskcache.Cache) []prometheus.Collector {
	c, g := metrics.CounterFunc, metrics.GaugeFunc
	return []prometheus.Collector{
		g("diskcache", "slots", "Pages the second-tier page cache on local disk holds at most.",
			func() float64 { return float64(dc.Stats().Slots) }),
		g("diskcache", "pages", "Pages the second-tier page cache holds now.",
			func() float64 { return float64(dc.Stats().Pages) }),
		c("diskcache", "hits_total", "Buffer pool misses read from the second-tier page cache.",
			func() float64 { return float64(dc.Stats().Hits) }),
		c("diskcache", "misses_total", "Buffer pool misses of evicted pages the second-tier page cache did not hold.",
			func() float64 { return float64(dc.Stats().Misses) }),
		c("diskcache", "rejected_total", "Reads from the second-tier page cache whose slot held another page than the one asked for (rewritten meanwhile, or a bad write): read from a Page Store instead.",
			func() float64 { return float64(dc.Stats().Rejected) }),
		c("diskcache", "writes_total", "Evicted pages written to the second-tier page cache.",
			func() float64 { return float64(dc.Stats().Writes) }),
		c("diskcache", "write_errors_total", "Writes to the second-tier page cache that failed (the page was not kept).",
			func() float64 { return float64(dc.Stats().WriteErrors) }),
		c("diskcache", "read_errors_total", "Reads from the second-tier page cache that failed (read from a Page Store instead).",
			func() float64 { return float64(dc.Stats().ReadErrors) }),
	}
}

// CommitEvents observes the engine's commit latency in a histogram registered in reg (none
// when reg is nil).
func CommitEvents(reg prometheus.Registerer) engine.EventListener {
	if reg == nil {
		return engine.EventListener{}
	}
	h := metrics.Latency("engine", "commit_duration_seconds",
		"Commit latency of transactions that wrote: applying the write set and waiting for the log to make it durable.")
	wait := metrics.Latency("engine", "commit_writer_wait_seconds",
		"The part of a commit's latency spent waiting for the engine's writer lock (one mini-transaction is applied at a time).")
	apply := metrics.Latency("engine", "commit_apply_seconds",
		"The part of a commit's latency spent holding the writer lock: applying the write set and appending the group to the log.")
	reg.MustRegister(h, wait, apply)
	return engine.EventListener{CommitEnd: func(i engine.CommitInfo) {
		h.Observe(i.Duration.Seconds())
		if i.Err == nil {
			wait.Observe(i.WriterWait.Seconds())
			apply.Observe(i.Apply.Seconds())
		}
	}}
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
		Buckets: metrics.LatencyBuckets()}, []string{"kind"})
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
		metrics.CounterFunc("sql", "plan_cache_hits_total", "Prepared statement executions that reused an analysed plan.",
			func() float64 { return float64(st.PreparedStats().Hits) }),
		metrics.CounterFunc("sql", "plan_cache_builds_total", "Prepared statement plans analysed for reuse.",
			func() float64 { return float64(st.PreparedStats().Builds) }),
		metrics.CounterFunc("sql", "plan_cache_fallbacks_total", "Prepared statement executions analysed anew (no reusable plan).",
			func() float64 { return float64(st.PreparedStats().Fallbacks) }),
	}
}

// ReplayCollectors read a read-only engine's replay at each scrape: its view, how far the
// log is ahead of it, and what the replay did.
func ReplayCollectors(db *engine.DB) []prometheus.Collector {
	c, g := metrics.CounterFunc, metrics.GaugeFunc
	st := func() engine.ReplayStats { s, _ := db.ReplayStats(); return s }
	return []prometheus.Collector{
		g("replay", "view_lsn", "The read view: the group end replayed last.",
			func() float64 { return float64(st().View) }),
		g("replay", "lag_bytes", "Log bytes durable beyond the read view.",
			func() float64 { s := st(); return float64(s.Durable - s.View) }),
		g("replay", "lag_seconds", "How long the replay has had log bytes it has not yet published (0: caught up).",
			func() float64 { return st().Behind.Seconds() }),
		c("replay", "groups_total", "Groups replayed and published as read views.",
			func() float64 { return float64(st().Groups) }),
		c("replay", "records_applied_total", "Records applied to cached pages.",
			func() float64 { return float64(st().Applied) }),
		c("replay", "page_reads_total", "Pages read from the Page Stores at the read view.",
			func() float64 { return float64(st().Fetches) }),
		c("replay", "resyncs_total", "Re-syncs from the Page Stores (the log no longer held the next record).",
			func() float64 { return float64(st().Resyncs) }),
		c("replay", "catalog_changes_total", "Replayed groups that changed the catalog.",
			func() float64 { return float64(st().CatalogChanges) }),
	}
}
