package pageapi

import (
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
)

// Codec is the gRPC codec of the Page Store service: protobuf, as grpc's default, except that
// it recycles 16 KiB page buffers. Every GetPage answer crosses the codec as a whole page, and
// in a process that serves or reads thousands of pages a second that garbage is what drives
// the garbage collector, whose pauses make the latency tail. On the server, Marshal gives the
// page of a GetPageResponse back to the pool once it is encoded (the service takes its pages
// from the pool); on the client, Unmarshal decodes a GetPageResponse's page into a page from
// the pool, which the caller gives back with Release when it has copied it.
type Codec struct {
	pool sync.Pool
}

// NewCodec returns a codec with an empty pool.
func NewCodec() *Codec {
	return &Codec{pool: sync.Pool{New: func() any { return new(page.Page) }}}
}

// Name is "proto": the codec speaks grpc's default encoding.
func (c *Codec) Name() string { return "proto" }

// Page returns a page buffer from the pool (its content is garbage).
func (c *Codec) Page() *page.Page { return c.pool.Get().(*page.Page) }

// Release gives a page buffer back to the pool; the caller must not use it afterwards.
func (c *Codec) Release(p *page.Page) {
	if p != nil {
		c.pool.Put(p)
	}
}

// Marshal encodes v; the page of a GetPageResponse goes back to the pool.
func (c *Codec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("pageapi: codec: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if r, ok := v.(*pageserverpb.GetPageResponse); ok && err == nil && len(r.Page) == page.Size {
		c.Release((*page.Page)(r.Page))
		r.Page = nil
	}
	return b, err
}

// Unmarshal decodes data into v. A GetPageResponse holding exactly one page-sized field gets
// a page from the pool; anything else is decoded by proto.Unmarshal.
func (c *Codec) Unmarshal(data []byte, v any) error {
	if r, ok := v.(*pageserverpb.GetPageResponse); ok {
		if num, typ, n := protowire.ConsumeTag(data); n > 0 && num == 1 && typ == protowire.BytesType {
			if b, m := protowire.ConsumeBytes(data[n:]); m > 0 && n+m == len(data) && len(b) == page.Size {
				p := c.Page()
				copy(p[:], b)
				proto.Reset(r)
				r.Page = p[:]
				return nil
			}
		}
	}
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("pageapi: codec: cannot unmarshal into %T", v)
	}
	return proto.Unmarshal(data, m)
}

// ServerOption returns the option that makes a server use c.
func (c *Codec) ServerOption() grpc.ServerOption { return grpc.ForceServerCodec(c) }

// DialOption returns the option that makes a client connection use c.
func (c *Codec) DialOption() grpc.DialOption {
	return grpc.WithDefaultCallOptions(grpc.ForceCodec(c))
}
