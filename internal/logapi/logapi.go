// Package logapi is the contract between a Log Store and its clients: what both sides must
// agree on, and nothing of either side's workings. It holds the gRPC service and messages
// (logapi/logstorepb), a store's protocol Status and its conversions to and from the messages,
// the bound on one append, and the connection options (the cluster secret, message sizes, flow
// control windows) a client dials with and the matching ones a store serves with.
//
// The store (internal/logstore) and its clients (internal/logclient: the writer's quorum log
// and the followers' reader) both import it; a client never imports the store.
package logapi

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"strata/internal/logapi/logstorepb"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/rpcauth"
)

// MaxAppend bounds the bytes of one append.
const MaxAppend = 8 << 20

// maxMessage bounds a gRPC message: an append or read chunk plus its header.
const maxMessage = MaxAppend + 1<<16

// HTTP/2 flow control windows of Log Store connections (the default 64 KiB makes every
// larger append wait for a window update).
const (
	streamWindow = 4 << 20
	connWindow   = 16 << 20
)

// DialOptions returns the options for dialling a Log Store: the cluster secret on every call
// (internal/rpcauth) and message sizes that fit the largest append and read chunk.
func DialOptions(secret string) ([]grpc.DialOption, error) {
	cred, err := rpcauth.DialOption(secret)
	if err != nil {
		return nil, err
	}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		cred,
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
		// Windows large enough for a chunk in flight without waiting for window updates.
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
	}, nil
}

// ServerOptions returns a Log Store server's message sizes and flow control windows, the
// counterpart of DialOptions' (the cluster secret is checked by rpcauth.ServerOptions).
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage),
		grpc.InitialWindowSize(streamWindow), grpc.InitialConnWindowSize(connWindow)}
}

// Status is a store's protocol state.
type Status struct {
	Promised    uint64        // highest epoch seen; older ones are refused
	History     []quorum.Term // epochs of the log's bytes
	Start       page.LSN      // where this log begins: redo.StartLSN, or where StartAt restarted it
	First       page.LSN      // first retained LSN
	End         page.LSN      // end of the accepted bytes
	Durable     page.LSN      // end of the synced bytes
	CompleteEnd page.LSN      // end of the last complete group among the synced bytes
	Committed   page.LSN      // the writer's quorum-durable LSN as last told to this store
	// FillTo is nonzero while a log restarted by StartAt is being filled: until Durable
	// reaches it the store may lack bytes it acknowledged before it lost its log, so a new
	// writer's recovery does not count it.
	FillTo  page.LSN
	Damaged []Span // ranges refused until repaired from a peer (not sent over gRPC)
}

// Span is a range of the log, [Lo, Hi).
type Span struct{ Lo, Hi page.LSN }

func (sp Span) String() string { return fmt.Sprintf("[%d, %d)", uint64(sp.Lo), uint64(sp.Hi)) }

// StatusToPB converts a Status.
func StatusToPB(st Status) *logstorepb.Status {
	return &logstorepb.Status{
		Promised: st.Promised, History: TermsToPB(st.History), Start: uint64(st.Start),
		First: uint64(st.First), End: uint64(st.End), Durable: uint64(st.Durable),
		CompleteEnd: uint64(st.CompleteEnd), Committed: uint64(st.Committed), FillTo: uint64(st.FillTo),
	}
}

// StatusFromPB converts a Status.
func StatusFromPB(p *logstorepb.Status) Status {
	return Status{
		Promised: p.GetPromised(), History: TermsFromPB(p.GetHistory()), Start: page.LSN(p.GetStart()),
		First: page.LSN(p.GetFirst()), End: page.LSN(p.GetEnd()), Durable: page.LSN(p.GetDurable()),
		CompleteEnd: page.LSN(p.GetCompleteEnd()), Committed: page.LSN(p.GetCommitted()), FillTo: page.LSN(p.GetFillTo()),
	}
}

// TermsToPB converts a history.
func TermsToPB(h []quorum.Term) []*logstorepb.Term {
	out := make([]*logstorepb.Term, len(h))
	for i, t := range h {
		out[i] = &logstorepb.Term{Epoch: t.Epoch, Start: uint64(t.Start)}
	}
	return out
}

// TermsFromPB converts a history.
func TermsFromPB(h []*logstorepb.Term) []quorum.Term {
	out := make([]quorum.Term, len(h))
	for i, t := range h {
		out[i] = quorum.Term{Epoch: t.GetEpoch(), Start: page.LSN(t.GetStart())}
	}
	return out
}
