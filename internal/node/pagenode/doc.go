// Package pagenode runs a Page Store node: a page store (internal/pagestore) consuming the log
// from the Log Stores, served over gRPC, keeping the segments the placement in the control
// plane gives it, with its metrics and its status in the control plane. Its collectors also
// serve `strata up --single`.
package pagenode
