package pageclient

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/page"
	"strata/internal/pageapi"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/storage"
)

// replica is one Page Store: its connection (reused by every call), its recent latency, and
// until when it is tried last after a failure or a lost hedge.
type replica struct {
	addr       string
	conn       *grpc.ClientConn
	pb         pageserverpb.PageStoreClient
	lat        latency
	avoidUntil atomic.Int64   // unix nanoseconds
	codec      *pageapi.Codec // the connection's codec: answers' pages are from its pool
	timeline   uint64         // the database the client's requests name (Options.Timeline)
}

func (r *replica) avoided(now time.Time) bool { return r.avoidUntil.Load() > now.UnixNano() }

func (r *replica) avoid(d time.Duration) { r.avoidUntil.Store(time.Now().Add(d).UnixNano()) }

// result is one replica's answer to one GetPage.
type result struct {
	r     *replica
	p     *page.Page // from r.codec's pool: give it back with release
	err   error
	final bool // the answer holds for every replica (not found, compacted): do not try others
}

// release gives the answer's page back to the pool.
func (res *result) release() {
	if res.p != nil {
		res.r.codec.Release(res.p)
		res.p = nil
	}
}

// getPage asks r for page id at lsn and checks the answer: a page that fails its checksum or
// structure check, or is not the page asked for, is r's failure like an error.
func (r *replica) getPage(ctx context.Context, id page.ID, lsn page.LSN) result {
	start := time.Now()
	resp, err := r.pb.GetPage(ctx, &pageserverpb.GetPageRequest{Timeline: r.timeline, Page: uint64(id), Lsn: uint64(lsn)})
	if err != nil {
		return r.failed(id, lsn, err)
	}
	b := resp.GetPage()
	if len(b) != page.Size {
		return result{r: r, err: fmt.Errorf("pageclient: page %d at lsn %d from %s: %w: %d bytes", id, lsn, r.addr, page.ErrCorrupt, len(b))}
	}
	p := (*page.Page)(b)
	err = p.Verify()
	if err == nil && (p.ID() != id || p.LSN() >= lsn) {
		err = fmt.Errorf("%w: got page %d at lsn %d", page.ErrCorrupt, p.ID(), p.LSN())
	}
	if err != nil {
		r.codec.Release(p)
		return result{r: r, err: fmt.Errorf("pageclient: page %d at lsn %d from %s: %w", id, lsn, r.addr, err)}
	}
	r.lat.add(time.Since(start))
	return result{r: r, p: p}
}

// failed turns a call error into a result: NotFound is an answer about the log, the same on
// every replica, and comes back as storage.ErrPageNotFound; OutOfRange comes back as
// storage.ErrCompacted once every replica has said it.
func (r *replica) failed(id page.ID, lsn page.LSN, err error) result {
	s := status.Convert(err)
	at := fmt.Sprintf("pageclient: page %d at lsn %d from %s", id, lsn, r.addr)
	switch s.Code() {
	case codes.NotFound:
		return result{r: r, final: true, err: fmt.Errorf("%s: %s: %w", at, s.Message(), storage.ErrPageNotFound)}
	case codes.OutOfRange:
		// Not final: a replica that was copied from a peer lacks the history below the copy,
		// which the others may still have.
		return result{r: r, err: fmt.Errorf("%s: %s: %w", at, s.Message(), storage.ErrCompacted)}
	}
	if errors.Is(err, context.Canceled) {
		return result{r: r, err: fmt.Errorf("%s: %w", at, context.Canceled)}
	}
	return result{r: r, err: fmt.Errorf("%s: %w", at, err)}
}
