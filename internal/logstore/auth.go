package logstore

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"strata/internal/rpcauth"
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
	}, nil
}
