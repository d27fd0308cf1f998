package pstest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"strata/internal/page"
	"strata/internal/pageapi"
	"strata/internal/pageserver"
	"strata/internal/pagestore"
	"strata/internal/rpcauth"
	"strata/internal/storage"
)

// Discard is a logger that drops everything.
var Discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// Replica is a Page Store on a temporary directory served on loopback.
type Replica struct {
	Store  *pagestore.Store
	Server *pageserver.Server
	Addr   string
}

// StartReplica opens a store consuming log (mod may change its options), starts it and serves
// it with secret on 127.0.0.1:0, with the extra server options. Everything is stopped and
// closed when the test ends.
func StartReplica(t testing.TB, log storage.LogReader, secret string, mod func(*pagestore.Options), extra ...grpc.ServerOption) *Replica {
	t.Helper()
	opts := pagestore.Options{Dir: t.TempDir(), Log: log, Logger: Discard, CompactInterval: -1,
		FlushInterval: 50 * time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	ctx := context.Background()
	st, err := pagestore.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	st.Start()
	srv, err := pageserver.Listen(ctx, st, pageserver.Options{Addr: "127.0.0.1:0", Secret: secret,
		Logger: Discard, ServerOptions: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return &Replica{Store: st, Server: srv, Addr: srv.Addr()}
}

// WaitConsumed waits until the replica has consumed the log up to lsn, failing the test after
// 30 s.
func (r *Replica) WaitConsumed(t testing.TB, lsn page.LSN) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.Store.Consumed() < lsn {
		if time.Now().After(deadline) {
			t.Fatalf("replica %s consumed %d, waited 30s for %d", r.Addr, r.Store.Consumed(), lsn)
		}
		time.Sleep(time.Millisecond)
	}
}

// Dial connects to addr with the given secret (none when empty), closed when the test ends.
func Dial(t testing.TB, addr, secret string) *grpc.ClientConn {
	t.Helper()
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, pageapi.DialOptions()...)
	if secret != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(rpcauth.Credential(secret)))
	}
	conn, err := grpc.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
