// Package failover holds the decisions of writer failover as pure functions and a small state
// machine, with no I/O, goroutines or clocks of their own: a read-only node's Watcher decides
// when to claim the writer's epoch (the writer's heartbeat lapsed and this node is the most
// caught-up candidate, or a planned switchover names it), and StartRole decides whether a node
// started as the writer may write or must rejoin as a read-only node. The edges
// (internal/node/computenode) feed them the control plane's view and carry the decisions out.
package failover
