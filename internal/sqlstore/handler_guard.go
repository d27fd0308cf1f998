package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	vtlog "github.com/dolthub/vitess/go/vt/log"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// guardHandler is the outermost mysql.Handler: it answers what GMS's handler would panic on
// or not answer at all.
type guardHandler struct {
	mysql.Handler
	kill   func(connID uint32) // stops the connection's running statement
	widths *tinyintWidths      // TINYINT(1) columns, for result metadata (tinyint1.go)
	drain  *Drain              // nil: the server is never drained
}

var _ mysql.BinlogReplicaHandler = (*guardHandler)(nil)

// ComResetConnection implements mysql.Handler. GMS's reads the connection's session, which
// GMS only makes at its first command: a pool resetting a fresh connection hit a nil
// pointer. The session is made first.
func (h *guardHandler) ComResetConnection(c *mysql.Conn) error {
	if _, err := h.Handler.ParserOptionsForConnection(c); err != nil {
		return err
	}
	return h.Handler.ComResetConnection(c)
}

// ComQuery implements mysql.Handler.
func (h *guardHandler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	if err := checkPacket(c, len(query)); err != nil {
		return err
	}
	if !h.drain.enter() {
		return errDraining()
	}
	defer h.drain.exit()
	defer h.watchPeer(c)()
	defer endInfile(c)
	return h.Handler.ComQuery(ctx, c, query, textRowsCallback(padOKInfo(callback), h.widths, newTableSpellings(query)))
}

// ComMultiQuery implements mysql.Handler.
func (h *guardHandler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	if err := checkPacket(c, len(query)); err != nil {
		return "", err
	}
	if !h.drain.enter() {
		return "", errDraining()
	}
	defer h.drain.exit()
	defer h.watchPeer(c)()
	defer endInfile(c)
	return h.Handler.ComMultiQuery(ctx, c, query, textRowsCallback(padOKInfo(callback), h.widths, newTableSpellings(query)))
}

// ComStmtExecute implements mysql.Handler.
func (h *guardHandler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	if !h.drain.enter() {
		return errDraining()
	}
	defer h.drain.exit()
	defer h.watchPeer(c)()
	return h.Handler.ComStmtExecute(ctx, c, prepare, binaryRowsCallback(callback, h.widths, newTableSpellings(prepare.PrepareStmt)))
}

// endInfile ends, after a statement, the file transfer a LOAD DATA LOCAL announced to the
// connection's guardConn, should the statement have failed before it asked for the file.
func endInfile(c *mysql.Conn) {
	if g := guardOf(c); g != nil {
		g.infile.Store(false)
	}
}

// peerPollInterval is how often a running statement's client is checked for having gone.
const peerPollInterval = 500 * time.Millisecond

// watchPeer stops the connection's statement, until the returned function is called, when
// the client closes the connection meanwhile. GMS polls for this itself only on a bare
// *net.TCPConn, which guardConn hides from it. A statement that ends within the first
// interval costs one timer.
func (h *guardHandler) watchPeer(c *mysql.Conn) func() {
	g := guardOf(c)
	if g == nil || h.kill == nil {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	t = time.AfterFunc(peerPollInterval, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if g.peerClosed() {
			h.kill(c.ConnectionID)
			return
		}
		t.Reset(peerPollInterval)
	})
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// ComPrepare implements mysql.Handler.
func (h *guardHandler) ComPrepare(ctx context.Context, c *mysql.Conn, query string, prepare *mysql.PrepareData) ([]*querypb.Field, error) {
	if err := checkPacket(c, len(query)); err != nil {
		return nil, err
	}
	if err := checkPlaceholders(query); err != nil {
		return nil, err
	}
	if !h.drain.enter() {
		return nil, errDraining()
	}
	defer h.drain.exit()
	fields, err := h.Handler.ComPrepare(ctx, c, query, prepare)
	fields, _ = mysqlFields(fields)
	fields, _ = h.widths.tinyintLengths(fields)
	fields, _ = newTableSpellings(query).fix(fields)
	return fields, err
}

// checkPacket enforces max_allowed_packet on a TLS connection, whose packets guardConn
// cannot read: too late to spare the buffer, but the statement does not run and the
// connection closes after the error, as in MySQL.
func checkPacket(c *mysql.Conn, n int) error {
	g := guardOf(c)
	if g == nil || !g.raw || int64(n)+1 <= g.maxPacket {
		return nil
	}
	g.closing.Store(true)
	return mysql.NewSQLError(erNetTooLarge, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes")
}

// ComRegisterReplica implements mysql.BinlogReplicaHandler.
func (h *guardHandler) ComRegisterReplica(c *mysql.Conn, host string, port uint16, user, password string) error {
	if b, ok := h.Handler.(mysql.BinlogReplicaHandler); ok {
		return b.ComRegisterReplica(c, host, port, user, password)
	}
	return nil
}

// ComBinlogDumpGTID implements mysql.BinlogReplicaHandler: there is no binary log (GMS's
// handler returns nothing, and the client waits for ever).
func (h *guardHandler) ComBinlogDumpGTID(*mysql.Conn, string, uint64, mysql.GTIDSet) error {
	return mysql.NewSQLError(erBinlogFatal, "HY000", "Binary log is not open")
}

// Panics that vitess catches.
//
// vitess recovers a panic in a connection's goroutine, closes the connection and logs the
// panic with its stack through its log package (go/vt/log, a set of function variables
// meant to be replaced). A client repeating a command that panics flooded the log; each is
// now one line (the stack at debug level), and counted.
var (
	caughtPanics atomic.Uint64
	panicLogger  atomic.Pointer[slog.Logger]
)

func init() {
	orig := vtlog.Errorf
	vtlog.Errorf = func(format string, args ...any) {
		if !strings.HasPrefix(format, "mysql_server caught panic") {
			orig(format, args...)
			return
		}
		caughtPanics.Add(1)
		lg := panicLogger.Load()
		if lg == nil {
			lg = slog.Default()
		}
		var v, stack string
		if len(args) > 0 {
			v = fmt.Sprint(args[0])
		}
		if len(args) > 1 {
			stack = fmt.Sprintf("%s", args[1])
		}
		lg.Error("sqlstore: a client's command panicked; its connection is closed", "panic", v, "at", panicSite(stack))
		lg.Debug("sqlstore: panic stack", "stack", stack)
	}
}

// panicSite is the first file:line outside the runtime in a stack from vitess's tb.Stack
// (lines "file:line (pc)", each followed by a tab-indented line of source).
func panicSite(stack string) string {
	for _, line := range strings.Split(stack, "\n") {
		if strings.HasPrefix(line, "\t") || !strings.Contains(line, ".go:") || strings.Contains(line, "/src/runtime/") {
			continue
		}
		if f := strings.Fields(line); len(f) > 0 {
			return f[0]
		}
	}
	return ""
}
