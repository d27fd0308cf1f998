package logstore

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logapi"
)

// Timelines. A Log Store process holds several logs: timeline 0, the main database's, in its
// directory as always, and the log of each branch, timeline N > 0, in timelines/N below it. Each
// is a Store of its own (segments, STATE with its epochs and history, flusher, repair), so
// nothing of one timeline's protocol state touches another's. The Server routes every call to
// the store of the timeline it names.

// timelinesDir is the directory, below timeline 0's, that holds the other timelines' stores.
const timelinesDir = "timelines"

// TimelineDir returns the directory of timeline n's store below dir, timeline 0's.
func TimelineDir(fs vfs.FS, dir string, n uint64) string {
	if n == 0 {
		return dir
	}
	return fs.PathJoin(dir, timelinesDir, strconv.FormatUint(n, 10))
}

// Timeline returns the timeline the store holds.
func (s *Store) Timeline() uint64 { return s.timeline }

// openTimeline opens (creating if needed) the store of timeline n beside s, timeline 0's: in
// its timelines/n, with its options, and on its peers' connections.
func (s *Store) openTimeline(n uint64) (*Store, error) {
	if n == 0 {
		return nil, fmt.Errorf("%w: timeline 0 is the store's own", ErrInvalid)
	}
	if err := logapi.CheckTimeline(n); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	opts := s.opts
	opts.Dir = TimelineDir(s.fs, s.dir, n)
	opts.Timeline = n
	opts.Logger = s.opts.Logger.With("timeline", n)
	return openStore(opts, forTimeline(s.peers, n))
}

// listTimelines returns the timelines N > 0 whose directories exist below dir, ascending. Names
// that are not a timeline's are logged and left alone.
func (s *Store) listTimelines() ([]uint64, error) {
	root := s.fs.PathJoin(s.dir, timelinesDir)
	names, err := s.fs.List(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logstore: list %s: %w", root, err)
	}
	var out []uint64
	for _, name := range names {
		n, err := strconv.ParseUint(name, 10, 64)
		ok := err == nil && n > 0 && strconv.FormatUint(n, 10) == name && logapi.CheckTimeline(n) == nil
		if ok {
			fi, err := s.fs.Stat(s.fs.PathJoin(root, name))
			ok = err == nil && fi.IsDir()
		}
		if !ok {
			s.logger.Warn("logstore: not a timeline's directory; ignored", "dir", root, "name", name)
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}
