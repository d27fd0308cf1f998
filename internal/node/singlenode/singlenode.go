// Package singlenode runs all of Strata in one process (`strata up --single`): the engine over
// a local redo log and page store as libraries (internal/localdb), its MySQL server and its
// metrics.
package singlenode

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"strata/internal/localdb"
	"strata/internal/metrics"
	"strata/internal/node"
	"strata/internal/node/computenode"
	"strata/internal/node/pagenode"
	"strata/internal/wal"
)

// Options describe a single-process database.
type Options struct {
	Dir        string // the data directory
	PoolFrames int    // buffer pool size in 16 KiB pages
	// DiskCacheBytes is the size of the second-tier page cache behind the buffer pool (0:
	// none; localdb.Options.DiskCacheBytes).
	DiskCacheBytes int64
	// History is the history window (localdb.Options.History).
	History time.Duration
	// SQL is the MySQL server; its Dir, Registerer and Ready are the node's own.
	SQL         computenode.SQLOptions
	MetricsAddr string // where to serve /metrics ("": nowhere)
	Logger      *slog.Logger
	// Ready is called once clients can connect, with the MySQL address and the metrics
	// address ("" for none).
	Ready func(addr net.Addr, metricsAddr string)
}

// Run runs the database until ctx ends or its engine fails (its log could not be written: a
// full disk); it then stops with an error rather than serve on, refusing every change.
func Run(ctx context.Context, opts Options) error {
	lg := opts.Logger
	m, err := node.StartMetrics(opts.MetricsAddr, "", lg)
	if err != nil {
		return err
	}
	defer m.Close()
	reg := m.Registerer()
	db, err := localdb.Open(ctx, localdb.Options{Dir: opts.Dir, PoolFrames: opts.PoolFrames, History: opts.History, Logger: lg,
		DiskCacheBytes: opts.DiskCacheBytes, EngineEvents: computenode.CommitEvents(reg), PageEvents: pagenode.Events(reg)})
	if err != nil {
		return err
	}
	defer db.Close()
	m.MustRegister(computenode.EngineCollectors(db.DB)...)
	if db.DiskCache != nil {
		m.MustRegister(computenode.DiskCacheCollectors(db.DiskCache)...)
	}
	m.MustRegister(walCollectors(db.Log)...)
	m.MustRegister(pagenode.Collectors(db.Pages, db.Log, lg)...)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for db.Failure() == nil {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
		cancel()
	}()
	so := opts.SQL
	so.Dir, so.Logger, so.Registerer = opts.Dir, lg, reg
	so.Ready = func(addr net.Addr, _ func() error) {
		if opts.Ready != nil {
			opts.Ready(addr, m.Addr())
		}
	}
	err = computenode.ServeSQL(sctx, db.DB, so)
	if ferr := db.Failure(); ferr != nil && ctx.Err() == nil {
		return fmt.Errorf("stopping; start again to recover from the data directory: %w", ferr)
	}
	return err
}

// walCollectors read a local redo log's counters.
func walCollectors(l *wal.Log) []prometheus.Collector {
	return []prometheus.Collector{
		metrics.CounterFunc("wal", "appends_total", "Log appends that added bytes or ended a group.",
			func() float64 { return float64(l.Stats().Appends) }),
		metrics.CounterFunc("wal", "fsyncs_total", "Log file and directory syncs.",
			func() float64 { return float64(l.Stats().Fsyncs) }),
		metrics.CounterFunc("wal", "written_bytes_total", "Log bytes written to segment files.",
			func() float64 { return float64(l.Stats().BytesWritten) }),
		metrics.GaugeFunc("wal", "durable_lsn", "End of the durable log.",
			func() float64 { return float64(l.Durable()) }),
	}
}
