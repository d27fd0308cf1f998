package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/retry"
	"strata/internal/storage"
)

// The log in the archive. A timeline's log is kept as chunks, each the log bytes [start, end)
// under "log/<timeline>/<start>-<end>" (16 hex digits each, so that keys sort by position),
// contiguous, and each ending at a group end: a rebuild may stop at any chunk's end and have a
// consistent database. Chunks are written in order and never rewritten; the archive holds the
// log up to the end of its last chunk (ArchivedEnd).

// Log archiver defaults.
const (
	DefaultChunkBytes = 16 << 20         // a chunk is cut once this much log is pending
	DefaultChunkDelay = 10 * time.Second // or once the oldest pending byte is this old
)

// readMax is the most log the archiver reads at a time (a Log Store answers at most 4 MiB).
const readMax = 1 << 20

// LogKey returns the key of the chunk [start, end) of timeline's log.
func LogKey(timeline uint64, start, end page.LSN) string {
	return fmt.Sprintf("log/%d/%016x-%016x", timeline, uint64(start), uint64(end))
}

// logPrefix is the prefix of timeline's chunks.
func logPrefix(timeline uint64) string { return fmt.Sprintf("log/%d/", timeline) }

// ParseLogKey splits a chunk key.
func ParseLogKey(key string) (timeline uint64, start, end page.LSN, err error) {
	rest, ok := strings.CutPrefix(key, "log/")
	tl, span, ok2 := strings.Cut(rest, "/")
	a, b, ok3 := strings.Cut(span, "-")
	if !ok || !ok2 || !ok3 || len(a) != 16 || len(b) != 16 {
		return 0, 0, 0, fmt.Errorf("archive: %q is not a log chunk key", key)
	}
	t, err1 := strconv.ParseUint(tl, 10, 64)
	s, err2 := strconv.ParseUint(a, 16, 64)
	e, err3 := strconv.ParseUint(b, 16, 64)
	if err := errors.Join(err1, err2, err3); err != nil || e <= s {
		return 0, 0, 0, fmt.Errorf("archive: %q is not a log chunk key", key)
	}
	return t, page.LSN(s), page.LSN(e), nil
}

// Chunk is one chunk of a log in the archive.
type Chunk struct {
	Start, End page.LSN
	Key        string
}

// LogChunks returns timeline's chunks in the archive, in order. It fails if they are not
// contiguous (a chunk missing in the middle). Chunks may overlap (two writers of the same log
// for a moment, a failover, cutting it at different group ends: the bytes are the same): a
// chunk wholly inside those before it is left out.
func (s *Store) LogChunks(ctx context.Context, timeline uint64) ([]Chunk, error) {
	var out []Chunk
	err := s.List(ctx, logPrefix(timeline), func(info Info) error {
		_, start, end, err := ParseLogKey(info.Key)
		if err != nil {
			return err
		}
		if info.Size != int64(end-start) {
			return fmt.Errorf("archive: log chunk %s holds %d bytes, not %d: %w", info.Key, info.Size, end-start, ErrDamaged)
		}
		if n := len(out); n > 0 {
			switch {
			case start > out[n-1].End:
				return fmt.Errorf("archive: log chunk %s does not follow %s: the archived log has a hole", info.Key, out[n-1].Key)
			case end <= out[n-1].End:
				return nil
			}
		}
		out = append(out, Chunk{Start: start, End: end, Key: info.Key})
		return nil
	})
	return out, err
}

// LogArchiverOptions configure a LogArchiver.
type LogArchiverOptions struct {
	Store    *Store
	Log      storage.LogReader // the log to copy (durable bytes only)
	Timeline uint64
	// Start is where an empty archive starts (default redo.StartLSN). An archive that holds
	// chunks goes on from the end of its last one.
	Start      page.LSN
	ChunkBytes int           // default DefaultChunkBytes
	ChunkDelay time.Duration // default DefaultChunkDelay
	Logger     *slog.Logger
}

// LogArchiver copies a log to the archive as it becomes durable. Upload failures (an
// unreachable or full store) are retried with a backoff and reported (Err); the log is
// simply kept longer meanwhile, since its owner truncates only below Archived.
type LogArchiver struct {
	opts     LogArchiverOptions
	archived atomic.Uint64
	lastErr  atomic.Pointer[error]
}

// NewLogArchiver finds where the archive's copy of the log ends.
func NewLogArchiver(ctx context.Context, opts LogArchiverOptions) (*LogArchiver, error) {
	if opts.Store == nil || opts.Log == nil {
		return nil, errors.New("archive: a log archiver needs a store and a log")
	}
	if opts.Start == 0 {
		opts.Start = redo.StartLSN
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
	}
	if opts.ChunkDelay <= 0 {
		opts.ChunkDelay = DefaultChunkDelay
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &LogArchiver{opts: opts}
	chunks, err := opts.Store.LogChunks(ctx, opts.Timeline)
	if err != nil {
		return nil, err
	}
	end := opts.Start
	if n := len(chunks); n > 0 {
		end = chunks[n-1].End
	}
	a.archived.Store(uint64(end))
	return a, nil
}

// Archived returns the end of the log the archive holds: the log below it may be truncated.
func (a *LogArchiver) Archived() page.LSN { return page.LSN(a.archived.Load()) }

// Err returns the last upload failure, or nil once an upload succeeded after it.
func (a *LogArchiver) Err() error {
	if p := a.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Run copies the log until ctx ends: it reads durable bytes from the archived end on and
// uploads a chunk, cut at the last group end, once ChunkBytes are pending or the oldest
// pending byte is ChunkDelay old. It returns ctx's error, or an error for bytes that are not
// redo records (the log is damaged: nothing after them is archived).
func (a *LogArchiver) Run(ctx context.Context) error {
	lg := a.opts.Logger.With("component", "archive", "timeline", a.opts.Timeline)
	pos := a.Archived() // start of buf
	var buf []byte
	var since time.Time  // when the oldest pending byte arrived
	readFailing := false // lastErr is a failure to read the log
	backoff := retry.NewBackoff(100*time.Millisecond, 30*time.Second)
	for ctx.Err() == nil {
		// Wait for more log, at most until the pending bytes are due (they may be already: a
		// chunk is cut then, whatever the log does).
		if due := len(buf) > 0 && time.Since(since) >= a.opts.ChunkDelay; !due {
			rctx, cancel := ctx, context.CancelFunc(func() {})
			if len(buf) > 0 {
				rctx, cancel = context.WithDeadline(ctx, since.Add(a.opts.ChunkDelay))
			}
			b, err := a.opts.Log.Read(rctx, pos+page.LSN(len(buf)), min(a.opts.ChunkBytes, readMax))
			expired := rctx.Err() != nil // the wait ended: a remote read says so in its own words
			cancel()
			switch {
			case err == nil && len(b) > 0:
				if readFailing { // the upload of the next chunk says how that goes
					a.lastErr.Store(nil)
					readFailing = false
				}
				if len(buf) == 0 {
					since = time.Now()
				}
				buf = append(buf, b...)
			case err == nil:
				if !retry.Sleep(ctx, 10*time.Millisecond) { // a reader that does not block
					return ctx.Err()
				}
			case ctx.Err() != nil:
				return ctx.Err()
			case expired || errors.Is(err, context.DeadlineExceeded):
			default:
				lg.Warn("archive: reading the log", "lsn", uint64(pos)+uint64(len(buf)), "err", err)
				err = fmt.Errorf("read the log at %d: %w", uint64(pos)+uint64(len(buf)), err)
				a.lastErr.Store(&err)
				readFailing = true
				if !backoff.Wait(ctx) {
					return ctx.Err()
				}
				continue
			}
		}
		if len(buf) < a.opts.ChunkBytes && (len(buf) == 0 || time.Since(since) < a.opts.ChunkDelay) {
			continue
		}
		n, err := redo.Scan(buf, nil)
		if err != nil {
			return fmt.Errorf("archive: the log at %d: %w", pos, err)
		}
		if n == 0 {
			continue // no group end yet (a large group): keep reading
		}
		end := pos + page.LSN(n)
		key := LogKey(a.opts.Timeline, pos, end)
		for {
			err := a.opts.Store.Put(ctx, key, bytes.NewReader(buf[:n]), int64(n))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if a.Err() == nil {
				lg.Warn("archive: cannot upload the log; it is kept until it can", "chunk", key, "err", err)
			}
			a.lastErr.Store(&err)
			if !backoff.Wait(ctx) {
				return ctx.Err()
			}
		}
		if a.Err() != nil {
			lg.Info("archive: uploading again", "chunk", key)
		}
		a.lastErr.Store(nil)
		backoff.Reset()
		a.archived.Store(uint64(end))
		pos = end
		buf = append(buf[:0], buf[n:]...)
		since = time.Now()
	}
	return ctx.Err()
}

// ReadLog returns timeline's archived log from from to to (each a chunk boundary or inside
// one), checking every chunk.
func (s *Store) ReadLog(ctx context.Context, timeline uint64, from, to page.LSN) ([]byte, error) {
	var out []byte
	err := s.ScanLog(ctx, timeline, from, to, func(at page.LSN, b []byte) error {
		out = append(out, b...)
		return nil
	})
	return out, err
}

// ScanLog calls fn with timeline's archived log from from to to, in order, a chunk (or the
// part of one in range) at a time, each checked, with the position of its first byte. It
// fails before the first call if the archive does not hold the whole range.
func (s *Store) ScanLog(ctx context.Context, timeline uint64, from, to page.LSN, fn func(at page.LSN, b []byte) error) error {
	chunks, err := s.LogChunks(ctx, timeline)
	if err != nil {
		return err
	}
	if len(chunks) == 0 || chunks[0].Start > from || chunks[len(chunks)-1].End < to {
		return fmt.Errorf("archive: the archived log of timeline %d does not cover [%d, %d): %w", timeline, from, to, ErrNotFound)
	}
	pos := from
	for _, c := range chunks {
		if c.End <= pos || pos >= to {
			continue
		}
		b, err := s.GetAll(ctx, c.Key, int64(c.End-c.Start))
		if err != nil {
			return err
		}
		lo, hi := pos-c.Start, min(to, c.End)-c.Start
		if err := fn(pos, b[lo:hi]); err != nil {
			return err
		}
		pos = min(to, c.End)
	}
	return nil
}
