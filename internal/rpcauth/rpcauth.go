// Package rpcauth authenticates Strata's nodes to each other with a shared cluster secret: the
// client attaches it to every gRPC call as metadata (a per-RPC credential), and the server's
// interceptors refuse any unary or streaming call that does not carry it with
// codes.Unauthenticated. The secret is compared in constant time. Without TLS it travels in
// clear, so it only protects a trusted network from stray or misconfigured nodes; with TLS
// configured it travels encrypted.
package rpcauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Header is the gRPC metadata key that carries the cluster secret.
const Header = "x-strata-secret"

// ErrNoSecret is returned for an empty cluster secret.
var ErrNoSecret = errors.New("rpcauth: the cluster secret is empty")

// Check returns nil when ctx's incoming metadata carries secret, and a codes.Unauthenticated
// status error otherwise.
func Check(ctx context.Context, secret []byte) error {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(Header) {
		if subtle.ConstantTimeCompare([]byte(v), secret) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "rpcauth: missing or wrong cluster secret")
}

// ServerOptions returns the server options that check the secret on every unary and streaming
// call. Other interceptors can be chained after it with grpc.ChainUnaryInterceptor.
func ServerOptions(secret string) ([]grpc.ServerOption, error) {
	if secret == "" {
		return nil, ErrNoSecret
	}
	s := []byte(secret)
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := Check(ctx, s); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := Check(ss.Context(), s); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}, nil
}

// Credential is the per-RPC credential that attaches a cluster secret to every call.
type Credential string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c Credential) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{Header: string(c)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: false, so that the secret
// can be used on loopback and trusted networks without TLS.
func (c Credential) RequireTransportSecurity() bool { return false }

// DialOption returns the dial option that sends secret with every call.
func DialOption(secret string) (grpc.DialOption, error) {
	if secret == "" {
		return nil, ErrNoSecret
	}
	return grpc.WithPerRPCCredentials(Credential(secret)), nil
}

// ReadSecretFile reads a cluster secret from a file, trimming surrounding white space.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("rpcauth: read secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("rpcauth: %s: %w", path, ErrNoSecret)
	}
	return s, nil
}
