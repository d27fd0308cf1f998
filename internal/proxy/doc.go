// Package proxy is the Strata proxy's server (`strata proxy`, docs/proxy.md): it speaks
// MySQL to clients and to the compute nodes, sending each statement where the decision core
// (internal/proxy/route) says — the read-write node (RW), a read-only node (RO) that meets
// the session's consistency level, or the proxy itself.
//
// Each client connection is one goroutine that owns a route.Session. Clients log in as
// MySQL users of the database: the proxy passes the client's scramble to the RW inside a
// login signed with the cluster secret (internal/proxyauth), so the RW checks the password
// for the client's own address; later connections for that session log in as already
// checked. Backend connections are pooled per node, user, client host, character set and
// protocol capabilities, brought to the session's state before use (COM_RESET_CONNECTION
// and route's Replay), and kept by a session while route pins it to its RW connection.
// Results are relayed packet by packet, status flags and warnings untouched.
//
// The nodes are found through a Discovery (the control plane in production, a fixed list
// in tests), polled a few times a second.
package proxy
