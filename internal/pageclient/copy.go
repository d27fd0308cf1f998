package pageclient

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/placement"
	"strata/internal/storage"
)

// CopySegment streams every page of segment seg as of lsn from the first of addrs that serves
// it, calling pages with the announced count and emit with each page (checked: sealed, of the
// segment, below lsn). When a store fails part-way the next one starts again from the first
// page, so emit may see a page twice. It returns an error wrapping storage.ErrCompacted when
// every store that answered has compacted past lsn.
func (c *Client) CopySegment(ctx context.Context, addrs []string, seg uint64, lsn page.LSN,
	pages func(n int), emit func(p *page.Page) error) error {
	if len(addrs) == 0 {
		return fmt.Errorf("pageclient: no peer holds segment %d", seg)
	}
	var errs []error
	compacted := 0
	for _, addr := range addrs {
		err := c.copyFrom(ctx, addr, seg, lsn, pages, emit)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, errEmit) {
			return err
		}
		if errors.Is(err, storage.ErrCompacted) {
			compacted++
		}
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	if compacted == len(errs) {
		return fmt.Errorf("pageclient: copy segment %d as of %d: %w", seg, lsn, err)
	}
	return fmt.Errorf("pageclient: copy segment %d as of %d: no peer could send it: %w", seg, lsn, err)
}

var errEmit = errors.New("pageclient: copy consumer failed")

func (c *Client) copyFrom(ctx context.Context, addr string, seg uint64, lsn page.LSN,
	pages func(n int), emit func(p *page.Page) error) error {
	r, err := c.replica(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.pb.CopySegment(ctx, &pageserverpb.CopySegmentRequest{Timeline: r.timeline, Segment: seg, Lsn: uint64(lsn)})
	if err != nil {
		return fmt.Errorf("pageclient: %s: %w", addr, err)
	}
	pagesPer := c.opts.SegmentPages
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if status.Code(err) == codes.OutOfRange {
				return fmt.Errorf("pageclient: %s: %s: %w", addr, status.Convert(err).Message(), storage.ErrCompacted)
			}
			return fmt.Errorf("pageclient: %s: %w", addr, err)
		}
		if chunk.GetTotal() > 0 {
			pages(int(chunk.GetTotal()))
		}
		for _, b := range chunk.GetPages() {
			if len(b) != page.Size {
				return fmt.Errorf("pageclient: %s: copied page of %d bytes: %w", addr, len(b), page.ErrCorrupt)
			}
			p := (*page.Page)(b)
			if err := p.Verify(); err != nil {
				return fmt.Errorf("pageclient: %s: copied page: %w", addr, err)
			}
			if placement.SegmentOf(p.ID(), pagesPer) != seg || p.LSN() >= lsn {
				return fmt.Errorf("pageclient: %s: copied page %d at lsn %d is not of segment %d below %d: %w",
					addr, p.ID(), p.LSN(), seg, lsn, page.ErrCorrupt)
			}
			if err := emit(p); err != nil {
				return fmt.Errorf("%w: %w", errEmit, err)
			}
		}
	}
}

// UsedSegments returns the segments the first of addrs that answers (and is not itself being
// filled from peers) holds pages of.
func (c *Client) UsedSegments(ctx context.Context, addrs []string) ([]uint64, error) {
	var errs []error
	for _, addr := range addrs {
		r, err := c.replica(addr)
		if err == nil {
			var st *pageserverpb.StatusResponse
			st, err = r.pb.Status(ctx, &pageserverpb.StatusRequest{Timeline: r.timeline, UsedSegments: true})
			if err == nil && st.GetCopyingRest() {
				err = errors.New("it is being filled from peers itself")
			}
			if err == nil {
				return st.GetUsedSegments(), nil
			}
		}
		errs = append(errs, fmt.Errorf("pageclient: %s: %w", addr, err))
	}
	return nil, fmt.Errorf("pageclient: no peer listed its segments: %w", errors.Join(errs...))
}

// Peers is a pagestore.SegmentSource over the other Page Stores of a cluster (the client does
// not import the store: cmd/strata, which hands Peers to a store, checks that at compile time).
type Peers struct {
	Client *Client
	// Replicas returns the addresses of the stores to copy segment seg from; Rest those of
	// the stores keeping every unlisted segment.
	Replicas func(ctx context.Context, seg uint64) ([]string, error)
	Rest     func(ctx context.Context) ([]string, error)
}

// CopySegment implements pagestore.SegmentSource.
func (p Peers) CopySegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(n int), emit func(*page.Page) error) error {
	addrs, err := p.Replicas(ctx, seg)
	if err != nil {
		return err
	}
	return p.Client.CopySegment(ctx, addrs, seg, lsn, pages, emit)
}

// UsedSegments implements pagestore.SegmentSource.
func (p Peers) UsedSegments(ctx context.Context) ([]uint64, error) {
	addrs, err := p.Rest(ctx)
	if err != nil {
		return nil, err
	}
	return p.Client.UsedSegments(ctx, addrs)
}
