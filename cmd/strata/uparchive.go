package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/archive"
	"strata/internal/logclient"
	"strata/internal/meta"
)

// `strata up`'s archive flags (docs/history.md, "The archive").
const (
	archiveFlag      = "archive"
	archiveDelayFlag = "archive-delay"
	archiveBaseFlag  = "archive-base-mb"
	archiveKeepFlag  = "archive-keep"
	rebuildFlag      = "rebuild-from"
)

func addArchiveFlags(cmd *cobra.Command) {
	cmd.Flags().String(archiveFlag, "",
		"copy the log and page images to this archive: a directory, or s3://host:port/bucket (credentials in $STRATA_ARCHIVE_ACCESS_KEY and $STRATA_ARCHIVE_SECRET_KEY); the Log Stores keep what it does not hold yet. A cluster records it; a new one without it archives to DATA/archive; 'none': no archive")
	cmd.Flags().Duration(archiveDelayFlag, archive.DefaultChunkDelay, "how long log may wait before it is uploaded to the archive")
	cmd.Flags().Int64(archiveBaseFlag, meta.DefaultBaseBytes>>20, "MiB of log archived between two bases (copies of every page, from which a rebuild starts)")
	cmd.Flags().Duration(archiveKeepFlag, 0,
		"how far back the archive keeps what a branch or restore from it needs (bases and log), when longer than the history window; branches and restores older than the Page Stores keep are made from the archive")
	cmd.Flags().String(rebuildFlag, "",
		"build a new cluster in --data from this archive alone (every commit it holds), then serve it")
}

// archiveSpec makes a local directory spec absolute: the nodes run in other directories.
func archiveSpec(spec string) (string, error) {
	if spec == "" || strings.Contains(spec, "://") {
		return spec, nil
	}
	return filepath.Abs(spec)
}

// mustAbs is archiveSpec, or spec itself when it cannot be made absolute.
func mustAbs(spec string) string {
	if a, err := archiveSpec(spec); err == nil {
		return a
	}
	return spec
}

// recordArchive records --archive in the control plane when it was given; a new cluster
// without it archives to dir/archive (the default); an existing cluster keeps what it has
// (none, if it never had one: its log may be truncated already).
func recordArchive(ctx context.Context, cmd *cobra.Command, mc *meta.Client, dir string) error {
	delay, _ := cmd.Flags().GetDuration(archiveDelayFlag)
	baseMB, _ := cmd.Flags().GetInt64(archiveBaseFlag)
	if baseMB <= 0 {
		return fmt.Errorf("--%s must be positive", archiveBaseFlag)
	}
	keep, _ := cmd.Flags().GetDuration(archiveKeepFlag)
	if keep < 0 {
		return fmt.Errorf("--%s must not be negative", archiveKeepFlag)
	}
	spec, _ := cmd.Flags().GetString(archiveFlag)
	if !cmd.Flags().Changed(archiveFlag) {
		if a, err := mc.Archive(ctx); !errors.Is(err, meta.ErrNotFound) {
			if err != nil || a.Spec == "" {
				return err // unreadable, or none by choice
			}
			// Recorded already: the other archive flags given change its settings.
			set := a
			f := cmd.Flags()
			if f.Changed(archiveDelayFlag) {
				set.ChunkDelay = delay
			}
			if f.Changed(archiveBaseFlag) {
				set.BaseBytes = baseMB << 20
			}
			if f.Changed(archiveKeepFlag) {
				set.Keep = keep
			}
			if set == a {
				return nil
			}
			return mc.SetArchive(ctx, set)
		}
		if e, err := mc.Epoch(ctx); err != nil || e != 0 {
			return err // a cluster from before archives: it goes on without one
		}
		spec = filepath.Join(dir, "archive")
	}
	if spec == "none" {
		return mc.SetArchive(ctx, meta.Archive{})
	}
	spec, err := archiveSpec(spec)
	if err != nil {
		return err
	}
	if spec == "" {
		return fmt.Errorf("--%s: give an archive, or 'none'", archiveFlag)
	}
	return mc.SetArchive(ctx, meta.Archive{Spec: spec, ChunkDelay: delay, BaseBytes: baseMB << 20, Keep: keep})
}

// rebuild writes the main database's history in an archive into a new cluster's Log Stores,
// as its writer would have (docs/history.md, "Rebuild"), in two steps: start, before the Page
// Stores start, makes the log begin where the rebuild does (the archive's newest base on the
// main database's history, or the log's first position without one), so that the empty Page
// Stores copy their segments from the base (pagestore --rebuild-from); run, once they serve,
// appends the archived log from there with a progress bar. A marker file in the data
// directory says a rebuild is under way until it completed: a directory a rebuild left half
// made holds part of the database, and is refused.
type rebuild struct {
	spec   string
	st     *archive.Store
	plan   archive.Plan
	log    *logclient.Log
	marker string
}

// startRebuild checks that the cluster in dir is new, plans the rebuild and opens the log.
func startRebuild(ctx context.Context, dir string, mc *meta.Client, secret string, logAddrs []string, spec string, lg *slog.Logger) (*rebuild, error) {
	if e, err := mc.Epoch(ctx); err != nil {
		return nil, err
	} else if e != 0 {
		return nil, fmt.Errorf("--%s: the cluster in this data directory already has a database (writer epoch %d): run without --%s to serve it, or rebuild into a new --data directory", rebuildFlag, e, rebuildFlag)
	}
	spec, err := archiveSpec(spec)
	if err != nil {
		return nil, err
	}
	r := &rebuild{spec: spec, marker: filepath.Join(dir, rebuildMarker)}
	if err := os.WriteFile(r.marker, []byte(spec+"\n"), 0o600); err != nil {
		return nil, err
	}
	if r.st, err = archive.Open(ctx, spec); err != nil {
		return nil, fmt.Errorf("--%s: %w", rebuildFlag, err)
	}
	if r.plan, err = r.st.RebuildPlan(ctx); err != nil {
		return nil, fmt.Errorf("--%s %s: %w", rebuildFlag, r.st, err)
	}
	epoch, err := mc.BumpEpoch(ctx)
	if err != nil {
		return nil, err
	}
	start := r.plan.Start()
	if r.log, err = logclient.Recover(ctx, logclient.Options{Addrs: logAddrs, Secret: secret, Epoch: epoch, Start: start, Logger: lg}); err != nil {
		return nil, err
	}
	if got := r.log.Recovered(); got != start {
		r.close()
		return nil, fmt.Errorf("--%s: the Log Stores already hold a log (to %d): rebuild into a new --data directory", rebuildFlag, got)
	}
	if b := r.plan.Base; b != nil {
		lg.Info("strata: rebuilding from the archive's base", "timeline", b.Timeline, "lsn", uint64(b.LSN), "taken", b.Created)
	}
	return r, nil
}

// close closes the log (a failed rebuild).
func (r *rebuild) close() {
	if r != nil && r.log != nil {
		_ = r.log.Close()
		r.log = nil
	}
}

// run appends the archived log and shows its progress on w.
func (r *rebuild) run(ctx context.Context, w io.Writer) error {
	defer r.close()
	var total int64
	for _, s := range r.plan.History {
		total += int64(s.End - s.Start)
	}
	p := newProgress(w, "rebuild from "+r.st.String(), total)
	var lastCommit int64
	log := r.log
	err := r.st.CopyLog(ctx, r.plan.History, log, p.add, func(t int64) { lastCommit = t })
	if err != nil {
		return fmt.Errorf("--%s: %w", rebuildFlag, err)
	}
	p.done()
	end := log.End()
	if err := log.Close(); err != nil {
		return err
	}
	r.log = nil
	when := "no commit time"
	if lastCommit != 0 {
		when = "last commit at " + time.UnixMicro(lastCommit).Local().Format("2006-01-02 15:04:05.000000 MST")
	}
	from := "the log's beginning"
	if b := r.plan.Base; b != nil {
		from = fmt.Sprintf("the base at lsn %d (%d pages)", b.LSN, b.Pages())
	}
	fmt.Fprintf(w, "strata: rebuilt the log from the archive: from %s, %d timeline(s), %.1f MB of log, to lsn %d (%s)\n",
		from, len(r.plan.History), float64(total)/1e6, uint64(end), when)
	return os.Remove(r.marker)
}

// rebuildMarker names the file that marks a rebuild under way.
const rebuildMarker = "REBUILDING"

// checkRebuilt refuses a data directory a rebuild left half made.
func checkRebuilt(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, rebuildMarker))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s holds a rebuild from the archive %s that did not complete: remove the directory and rebuild again", dir, strings.TrimSpace(string(b)))
}

// progress shows how far a long copy is: a bar redrawn on one line, at most every 200 ms.
type progress struct {
	w     io.Writer
	what  string
	total int64
	done_ int64
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, what string, total int64) *progress {
	p := &progress{w: w, what: what, total: max(total, 1), start: time.Now()}
	p.draw()
	return p
}

func (p *progress) add(n int64) {
	p.done_ += n
	if time.Since(p.last) >= 200*time.Millisecond {
		p.draw()
	}
}

func (p *progress) draw() {
	p.last = time.Now()
	const width = 30
	frac := float64(p.done_) / float64(p.total)
	bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
	rate := float64(p.done_) / 1e6 / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%s [%s] %3.0f%% %.1f/%.1f MB %.1f MB/s", p.what, bar, frac*100, float64(p.done_)/1e6, float64(p.total)/1e6, rate)
}

func (p *progress) done() {
	p.draw()
	fmt.Fprintln(p.w)
}

// errNoArchiveSingle: --single has no archive.
var errNoArchiveSingle = errors.New("--archive and --rebuild-from need a cluster; --single has no archive")
