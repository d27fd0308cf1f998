package route

import (
	"fmt"
	"strings"
)

// LSN is a position in the redo log, as the RW reports it for commits and the ROs for what
// they have applied.
type LSN uint64

// Target is where a statement goes.
type Target uint8

const (
	// RW is the read-write node.
	RW Target = iota
	// RO is any read-only node that meets the decision's consistency requirement (Choose).
	RO
	// Proxy means the proxy answers the statement itself (SET strata_read_consistency).
	Proxy
)

func (t Target) String() string {
	switch t {
	case RW:
		return "RW"
	case RO:
		return "RO"
	case Proxy:
		return "PROXY"
	}
	return fmt.Sprintf("Target(%d)", uint8(t))
}

// Conn says which backend connection of the target the statement needs.
type Conn uint8

const (
	// AnyConn is any pooled connection of the target, after Replay(target).
	AnyConn Conn = iota
	// Pinned is the session's own RW connection: the session holds state that lives only
	// on it (Session.Pins). The edge keeps it for the session until the pins are gone.
	Pinned
	// LastRW is the RW connection that ran the session's last RW statement: LAST_INSERT_ID(),
	// ROW_COUNT(), FOUND_ROWS() and CONNECTION_ID() read that connection's state. The edge
	// should keep that connection for the session until its next RW statement when it can.
	LastRW
	// Previous is the connection, on whatever node, that ran the session's previous
	// statement: SHOW WARNINGS, SHOW ERRORS and @@warning_count describe that statement.
	Previous
)

func (c Conn) String() string {
	switch c {
	case AnyConn:
		return "any"
	case Pinned:
		return "pinned"
	case LastRW:
		return "last-rw"
	case Previous:
		return "previous"
	}
	return fmt.Sprintf("Conn(%d)", uint8(c))
}

// Decision is where one statement string goes and what the edge must ensure there.
type Decision struct {
	Target Target
	// Reason says why the statement goes to the RW (or the proxy); for an RO it is
	// "autocommit read".
	Reason string
	// Conn is the connection of Target the statement needs.
	Conn Conn
	// Consistency is the session's level when the statement was routed.
	Consistency Consistency
	// MinLSN is the LSN an RO must have applied (session consistency: the session's last
	// commit). The edge waits a bounded time for one to reach it, else sends to the RW.
	MinLSN LSN
	// NeedDurable asks the edge to fetch the RW's durable LSN now and require an RO to have
	// applied it (global consistency, or session consistency after a write whose commit
	// LSN the RW did not report).
	NeedDurable bool
	// InTransaction reports that the statement runs inside a transaction (explicit, or
	// autocommit=0): if the RW changes under it, the edge must fail it with an error saying
	// the transaction was rolled back, not resend it.
	InTransaction bool
	// Resendable reports that the statement has no effect beyond its result, so the edge
	// may resend it to a new RW (or another RO) even if it was already in flight. A
	// statement held before it was sent can always be sent to the new RW unless
	// InTransaction.
	Resendable bool
	// Error, for Target Proxy, is the error the proxy answers with ("" means OK).
	Error string
	// Statements is the number of statements in the string.
	Statements int
}

func (d Decision) String() string {
	var b strings.Builder
	b.WriteString(d.Target.String())
	switch {
	case d.Error != "":
		fmt.Fprintf(&b, " error: %s", d.Error)
	case d.Reason != "":
		fmt.Fprintf(&b, " (%s)", d.Reason)
	}
	if d.Target == RO {
		fmt.Fprintf(&b, " consistency=%s min-lsn=%d", d.Consistency, d.MinLSN)
		if d.NeedDurable {
			b.WriteString(" need-durable")
		}
	}
	if d.Target != Proxy {
		fmt.Fprintf(&b, " conn=%s", d.Conn)
	}
	if d.InTransaction {
		b.WriteString(" in-txn")
	}
	if d.Resendable {
		b.WriteString(" resendable")
	}
	if d.Statements > 1 {
		fmt.Fprintf(&b, " statements=%d", d.Statements)
	}
	return b.String()
}

// Server status flags of the MySQL protocol that Done reads.
const (
	StatusInTrans    uint16 = 0x0001
	StatusAutocommit uint16 = 0x0002
)

// Result is what the edge learned from running a routed statement string.
type Result struct {
	// OK reports that every statement of the string succeeded.
	OK bool
	// Completed is, when OK is false, how many statements of a multi-statement string
	// succeeded before the one that failed.
	Completed int
	// ErrCode is the MySQL error code of the failure (1213, a deadlock, rolls back the
	// whole transaction).
	ErrCode uint16
	// CommitLSN is the LSN of a commit the statement made, as the RW reported it (0: none
	// reported).
	CommitLSN LSN
	// Status holds the server status flags of the last OK or EOF packet when HasStatus.
	// From the RW they are the truth about the transaction and autocommit state.
	Status    uint16
	HasStatus bool
	// DurableLSN is the RW durable LSN the edge fetched for this statement (NeedDurable).
	DurableLSN LSN
}
