package logstore

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"strata/internal/rpcauth"
)

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
