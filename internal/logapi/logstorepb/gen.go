// Package logstorepb holds the Log Store's gRPC service and messages, generated from
// logstore.proto (the service), logstore_data.proto and logstore_control.proto (its messages).
// To regenerate (protoc from the protobuf-compiler package):
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.33.0
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.3.0
//	go generate ./internal/logapi/logstorepb
package logstorepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative logstore.proto logstore_data.proto logstore_control.proto
