// Package route is the decision core of the Strata proxy (issue 10, item 2): for each
// client session it decides where every statement goes — the read-write node (RW), any
// read-only node (RO) that meets the session's consistency level, or the proxy itself — and
// what session state must follow the client to a backend connection.
//
// It is a deterministic state machine in the style of etcd's raft package: no I/O, no
// goroutines, no clocks. The proxy's network edge (package proxy) owns the connections and
// feeds a Session each statement text (Route) and then what it learned from the backend
// (Done: success or failure, the commit LSN the RW reported, the server status flags). The
// edge picks an RO with Choose, replays Replay(target) on a backend connection whose
// generation is older than Generation(), and on a switch of the RW calls Failover.
//
// Classification uses the vitess parser that go-mysql-server uses, so the proxy reads a
// statement the way the compute node will. Whatever the proxy cannot parse or classify goes
// to the RW: a statement is sent to an RO only when it is positively known to be a read with
// no effect on the session (docs/proxy.md lists the rules).
package route
