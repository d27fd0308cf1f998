// Package pageapi is the contract between a Page Store and its clients: what both sides must
// agree on, and nothing of either side's workings. It holds the gRPC service and messages
// (pageapi/pageserverpb), the codec both sides use to move 16 KiB pages without garbage
// (Codec), and the matching HTTP/2 settings of a client (DialOptions) and a server
// (ServerOptions).
//
// The service (internal/pageserver), the store it serves (internal/pagestore) and the client
// (internal/pageclient) import it; the client imports neither the service nor the store.
package pageapi

import (
	"google.golang.org/grpc"
)

// window is the HTTP/2 flow-control window per stream and connection. A page (16 KiB) is
// larger than a quarter of the default 64 KiB window, so with it every few answers cost a
// WINDOW_UPDATE round; a fixed large window also turns off gRPC's bandwidth probing pings.
const window = 1 << 20

// ServerOptions are the server's HTTP/2 settings for page-sized answers.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window),
		grpc.WriteBufferSize(64 << 10), grpc.ReadBufferSize(64 << 10)}
}

// DialOptions are the client's HTTP/2 settings matching the server's.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window),
		grpc.WithWriteBufferSize(64 << 10), grpc.WithReadBufferSize(64 << 10)}
}
