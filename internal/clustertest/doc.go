// Package clustertest holds the fault-injection acceptance tests of the cluster: each test
// builds the strata binary, starts `strata up` (meta, 3 Log Stores, 3 Page Stores and the
// compute node, each a process on loopback), drives SQL load through
// github.com/go-sql-driver/mysql, finds nodes with `strata ctl status --json`, and kills them
// with SIGKILL. A node is kept down with the supervisor's hold files (DATA/hold/<node>).
//
// The tests are skipped with -short. `go test ./internal/clustertest -run Linearizable -args
// -long` runs the linearizability check for minutes instead of seconds. The failover tests
// (failover_test.go) run the proxy in front; only TestFailoverUnderLoad runs by default,
// `-args -failover` adds the switchover, the fenced partitioned writer and the
// linearizability check through the proxy with the writer killed repeatedly.
package clustertest
