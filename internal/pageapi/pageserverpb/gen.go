// Package pageserverpb holds the Page Store's gRPC service and messages, generated from
// pageserver.proto (the service), pageserver_pages.proto and pageserver_control.proto (its
// messages). To regenerate (protoc from the protobuf-compiler package):
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.33.0
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.3.0
//	go generate ./internal/pageapi/pageserverpb
package pageserverpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative pageserver.proto pageserver_pages.proto pageserver_control.proto
