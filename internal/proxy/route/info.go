package route

import "github.com/dolthub/vitess/go/vt/sqlparser"

// info is what the classifier learned about one statement: whether it may go to an RO,
// why not, and what it does to the session's state once it succeeds.
type info struct {
	text string
	// read: a statement an RO can answer exactly as the RW would.
	read bool
	// pure: no effect beyond its result (resendable after a failover).
	pure bool
	// reason: why the statement goes to the RW (when !read).
	reason string
	// conn: the connection it needs (LastRW, Previous) when not pinned.
	conn Conn
	// reads: user variables the statement reads.
	reads []string
	// intercept: a SET strata_read_consistency the proxy answers; errText is its error.
	intercept bool
	errText   string
	fx        effects
}

// effects are the changes a statement makes to the session once it succeeds.
type effects struct {
	begin          bool // starts a transaction (BEGIN, START TRANSACTION, XA START)
	end            bool // ends one (COMMIT, ROLLBACK, XA COMMIT/ROLLBACK)
	chain          bool // COMMIT AND CHAIN: ends one and starts the next
	rollback       bool // the end discards the transaction's writes
	implicitCommit bool // DDL, LOCK TABLES: commits the open transaction first
	write          bool // may commit data, so a commit LSN is expected
	autocommit     int8 // +1 on, -1 off, 0 unchanged
	lockTables     int8 // +1 LOCK TABLES, -1 UNLOCK TABLES
	namedLocks     int8 // +1 GET_LOCK and friends, -1 RELEASE_ALL_LOCKS
	tempCreate     []string
	tempDrop       []string
	tempSticky     bool     // a temporary table was renamed: names no longer tracked
	rwVars         []string // user variables whose value now lives only on the RW connection
	userVars       []assign // user variables set to literals (replayed everywhere)
	sysVars        []assign // session variables set to literals (replayed everywhere)
	names          string   // SET NAMES / CHARACTER SET statement to replay
	unreplayable   []string // session variables set to values the proxy cannot replay
	nodeLocal      []string // session variables that stay on the RW connection
	nextTxn        bool     // SET TRANSACTION: characteristics of the next transaction
	db             *string  // USE
	prepare        *prepared
	deallocate     string
	call           bool // CALL: the procedure may leave state on the connection
	handler        bool // HANDLER … OPEN
	unknown        bool // unclassified: may have left any state on the connection
	consistency    *Consistency
}

// assign is one variable set to a literal: name and the literal's SQL text (for session
// variables the whole replayed statement, empty for DEFAULT, which drops the entry); for a
// user variable set to a string, the string.
type assign struct {
	name, value string
	isStr       bool
	raw         string
}

// prepared is a statement prepared by name (PREPARE) or by the binary protocol.
type prepared struct {
	name string
	// text is the statement text; known is false for PREPARE … FROM @var when the
	// variable's value is not known to the proxy.
	text  string
	known bool
	// db is the current database when it was prepared: table names resolve against it.
	db string
	// st is text parsed (nil if it does not parse), once parsed is set.
	st     sqlparser.Statement
	parsed bool
}

// rw returns an info for a statement that goes to the RW for reason.
func rw(text, reason string) info {
	return info{text: text, reason: reason}
}
