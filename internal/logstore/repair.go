package logstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/retry"
)

// Repair. A record that fails its check (on open, in the background check of the closed
// segments that follows every open, or on a read) makes the range from it to the end of its
// segment (to the durable end in the segment being written) damaged: core refuses to serve it,
// and the repair goroutine copies it from a peer replica with the Read RPC. core decides which
// peer may supply it (checkRepairSource: the peer holds the range synced and its history agrees
// with this store's up to the range's end, so by log matching its bytes are the ones this store
// wrote) and whether the bytes are acceptable (checkRepairData: whole records with valid CRCs,
// exactly the range). The store then writes them in place, syncs, reads them back, checks them
// again and serves the range. A range no peer can supply stays refused; it is retried with a
// growing interval and reported each time.

// peerTimeout bounds one attempt to fetch a damaged range from one peer.
const peerTimeout = 10 * time.Second

// maxRepairWait bounds the interval between attempts at a range no peer could supply.
const maxRepairWait = 30 * time.Second

// peer is another replica of the log: of one timeline of it, on a connection that the
// stores of every timeline share.
type peer struct {
	addr     string
	conn     *grpc.ClientConn
	c        logstorepb.LogStoreClient
	timeline uint64
}

// forTimeline returns the peers of ps for timeline n, on the same connections.
func forTimeline(ps []*peer, n uint64) []*peer {
	out := make([]*peer, len(ps))
	for i, p := range ps {
		out[i] = &peer{addr: p.addr, conn: p.conn, c: p.c, timeline: n}
	}
	return out
}

func dialPeers(addrs []string, secret string, timeline uint64) ([]*peer, error) {
	if len(addrs) == 0 {
		return nil, nil
	}
	dial, err := logapi.DialOptions(secret)
	if err != nil {
		return nil, fmt.Errorf("logstore: peers: %w", err)
	}
	var out []*peer
	for _, a := range addrs {
		conn, err := grpc.NewClient(a, dial...)
		if err != nil {
			closePeers(out)
			return nil, fmt.Errorf("logstore: peer %s: %w", a, err)
		}
		out = append(out, &peer{addr: a, conn: conn, c: logstorepb.NewLogStoreClient(conn), timeline: timeline})
	}
	return out, nil
}

func closePeers(ps []*peer) {
	for _, p := range ps {
		_ = p.conn.Close()
	}
}

// read fetches the peer's synced bytes [sp.Lo, sp.Hi).
func (p *peer) read(ctx context.Context, sp logapi.Span) ([]byte, error) {
	var out []byte
	for from := sp.Lo; from < sp.Hi; {
		stream, err := p.c.Read(ctx, &logstorepb.ReadRequest{From: uint64(from), Max: uint32(min(uint64(sp.Hi-from), 1<<20)), Limit: uint64(sp.Hi),
			Timeline: p.timeline})
		if err != nil {
			return nil, err
		}
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			err = errors.New("empty answer")
		}
		if err != nil {
			return nil, err
		}
		if page.LSN(resp.GetStart()) != from || len(resp.GetData()) == 0 || uint64(len(resp.GetData())) > uint64(sp.Hi-from) {
			return nil, fmt.Errorf("answer of %d bytes at %d to a read at %d up to %d", len(resp.GetData()), resp.GetStart(), uint64(from), uint64(sp.Hi))
		}
		out = append(out, resp.GetData()...)
		from += page.LSN(len(resp.GetData()))
	}
	return out, nil
}

func (p *peer) status(ctx context.Context) (logapi.Status, error) {
	st, err := p.c.GetStatus(ctx, &logstorepb.StatusRequest{Timeline: p.timeline})
	if err != nil {
		return logapi.Status{}, err
	}
	return logapi.StatusFromPB(st), nil
}

// Repairs returns the number of damaged ranges repaired from peers since Open.
func (s *Store) Repairs() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repairs
}

func (s *Store) wakeRepair() {
	select {
	case s.repairWake <- struct{}{}:
	default:
	}
}

// repairLoop checks the closed segments once, then repairs damaged ranges as they are found,
// until ctx ends.
func (s *Store) repairLoop(ctx context.Context) {
	defer close(s.repairDone)
	s.scrub(ctx)
	backoff := retry.NewBackoff(s.repairEvery, maxRepairWait)
	type failure struct {
		sp  logapi.Span
		err error
	}
	for {
		s.mu.Lock()
		spans := slices.Clone(s.c.damaged)
		s.mu.Unlock()
		var failed []failure
		for _, sp := range spans {
			if ctx.Err() != nil {
				return
			}
			if err := s.repairSpan(ctx, sp); err != nil {
				if ctx.Err() != nil {
					return
				}
				failed = append(failed, failure{sp, err})
			}
		}
		var timer <-chan time.Time
		if len(failed) > 0 {
			wait := backoff.Next()
			for _, f := range failed {
				seg, _ := s.segmentAt(f.sp.Lo)
				file, off := "", int64(-1)
				if seg != nil {
					file, off = seg.path, int64(f.sp.Lo-seg.start)
				}
				s.logger.Error("logstore: damaged range not repaired; still refusing it", "file", file, "offset", off,
					"from", uint64(f.sp.Lo), "to", uint64(f.sp.Hi), "retry_in", wait, "err", f.err)
			}
			timer = time.After(wait)
		} else {
			backoff.Reset()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.repairWake:
			backoff.Reset()
		case <-timer:
		}
	}
}

// scrub checks every record of the closed segments (the last one was checked by recover),
// building their indexes, and reports damage.
func (s *Store) scrub(ctx context.Context) {
	s.segMu.RLock()
	segs := slices.Clone(s.segs)
	s.segMu.RUnlock()
	for i := 0; i+1 < len(segs) && ctx.Err() == nil; i++ {
		err := segs[i].buildIndex(s.fs, int64(segs[i+1].start-segs[i].start))
		var de *damageError
		switch {
		case errors.As(err, &de):
			s.reportDamage(de)
		case err != nil:
			s.logger.Warn("logstore: checking a segment", "file", segs[i].path, "err", err) // truncated meanwhile, or I/O
		}
	}
}

// repairSpan copies the damaged span sp from the first peer that can supply it.
func (s *Store) repairSpan(ctx context.Context, sp logapi.Span) error {
	if len(s.peers) == 0 {
		return errors.New("no peers configured (--peers)")
	}
	var errs []error
	for _, p := range s.peers {
		data, epoch, err := s.fetch(ctx, p, sp)
		if err == nil {
			err = s.applyRepair(sp, data, epoch, p.addr)
		}
		if err == nil {
			return nil
		}
		if errors.Is(err, errNotDamaged) {
			return nil
		}
		errs = append(errs, fmt.Errorf("peer %s: %w", p.addr, err))
	}
	return errors.Join(errs...)
}

var errNotDamaged = errors.New("logstore: range no longer damaged")

// fetch reads sp from p and checks that p may supply it, before and after the read (a new
// writer could cut and refill p meanwhile). It returns the bytes and the epoch of sp's last
// byte in this store's history at the time of the check.
func (s *Store) fetch(ctx context.Context, p *peer, sp logapi.Span) ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	check := func() (uint64, error) {
		st, err := p.status(ctx)
		if err != nil {
			return 0, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.c.isDamaged(sp) {
			return 0, errNotDamaged
		}
		return s.c.checkRepairSource(sp, st)
	}
	epoch, err := check()
	if err != nil {
		return nil, 0, err
	}
	data, err := p.read(ctx, sp)
	if err != nil {
		return nil, 0, err
	}
	if err := checkRepairData(sp, data); err != nil {
		return nil, 0, err
	}
	again, err := check()
	if err != nil {
		return nil, 0, err
	}
	if again != epoch {
		return nil, 0, fmt.Errorf("this store's history changed during the read (epoch %d, now %d)", epoch, again)
	}
	return data, epoch, nil
}

// applyRepair writes data, checked bytes for the damaged span sp whose last byte had epoch
// epoch when checked, in place, syncs, reads them back and serves the span again.
func (s *Store) applyRepair(sp logapi.Span, data []byte, epoch uint64, from string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.err != nil {
		return errors.New("logstore: closing")
	}
	if !s.c.isDamaged(sp) {
		return errNotDamaged
	}
	if e := quorum.EpochAt(s.c.history, sp.Hi-1); e != epoch {
		return fmt.Errorf("this store's history changed (epoch %d, now %d)", epoch, e)
	}
	s.ioMu.Lock() // lock order: mu, then ioMu, as StartAt and cut
	defer s.ioMu.Unlock()
	s.segMu.RLock()
	segs := slices.Clone(s.segs)
	s.segMu.RUnlock()
	var files []string
	for i, seg := range segs {
		segEnd := s.c.durable
		if i+1 < len(segs) {
			segEnd = segs[i+1].start
		}
		lo, hi := max(sp.Lo, seg.start), min(sp.Hi, segEnd)
		if lo >= hi {
			continue
		}
		if err := rewrite(s, seg, int64(lo-seg.start), data[lo-sp.Lo:hi-sp.Lo]); err != nil {
			return err
		}
		seg.resetIndex()
		if i+1 < len(segs) {
			if err := seg.buildIndex(s.fs, int64(segEnd-seg.start)); err != nil {
				return fmt.Errorf("logstore: after repair: %w", err)
			}
		} else {
			// The segment being written: index it whole again (the flusher is idle: ioMu).
			if err := seg.buildIndex(s.fs, s.w.off); err != nil {
				return fmt.Errorf("logstore: after repair: %w", err)
			}
		}
		files = append(files, seg.path)
	}
	s.c.repaired(sp)
	if s.c.groupUnsure && len(s.c.damaged) == 0 {
		if ge, err := s.lastGroupEnd(s.c.durable); err == nil {
			s.c.syncedGroup, s.c.completeEnd = max(s.c.syncedGroup, ge), max(s.c.completeEnd, ge)
			s.c.groupUnsure = false
		}
	}
	s.repairs++
	s.notify()
	s.logger.Info("logstore: damaged range repaired from a peer", "files", files, "from", uint64(sp.Lo), "to", uint64(sp.Hi), "peer", from)
	return nil
}

// rewrite writes b at off in seg's file, syncs it and reads it back.
func rewrite(s *Store, seg *segment, off int64, b []byte) error {
	f, err := s.fs.OpenReadWrite(seg.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("logstore: open %s for repair: %w", seg.path, err)
	}
	n, err := f.WriteAt(b, off)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("logstore: repair %s at offset %d: %w", seg.path, off, err)
	}
	got := make([]byte, len(b))
	if err := seg.readAt(s.fs, got, off); err != nil {
		return err
	}
	if !bytes.Equal(got, b) {
		return fmt.Errorf("logstore: repair %s at offset %d: the bytes read back differ from those written", seg.path, off)
	}
	return nil
}
