package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
)

// StatementObserver is told of every statement a client ran: its kind (StatementKinds), how
// long it took, and its error (nil when it succeeded).
type StatementObserver func(kind string, d time.Duration, err error)

// StatementKinds are the kinds a StatementObserver is given: a statement's first keyword
// when it is one of these, "other" otherwise (so that a metric labelled by kind stays small).
var StatementKinds = []string{"select", "insert", "update", "delete", "replace", "begin", "commit",
	"rollback", "set", "show", "create", "alter", "drop", "call", "load", "other"}

var statementKind = func() map[string]string {
	m := map[string]string{"start": "begin", "with": "select", "values": "select", "table": "select",
		"explain": "show", "describe": "show", "desc": "show", "truncate": "drop", "rename": "alter"}
	for _, k := range StatementKinds {
		m[k] = k
	}
	return m
}()

// StatementKind classifies a statement by its first keyword, past comments and spaces.
func StatementKind(q string) string {
	for {
		q = strings.TrimLeft(q, " \t\r\n(")
		switch {
		case strings.HasPrefix(q, "/*"):
			end := strings.Index(q[2:], "*/")
			if end < 0 {
				return "other"
			}
			q = q[2+end+2:]
			continue
		case strings.HasPrefix(q, "#"), strings.HasPrefix(q, "-- "):
			end := strings.IndexByte(q, '\n')
			if end < 0 {
				return "other"
			}
			q = q[end+1:]
			continue
		}
		break
	}
	end := 0
	for end < len(q) && end < 8 && isWordByte(q[end]) {
		end++
	}
	if k, ok := statementKind[strings.ToLower(q[:end])]; ok && (end == len(q) || !isWordByte(q[end])) {
		return k
	}
	return "other"
}

// withObserver tells obs of every statement that reaches the handler wrap makes.
func withObserver(obs StatementObserver, wrap server.HandlerWrapper) server.HandlerWrapper {
	return func(h mysql.Handler) (mysql.Handler, error) {
		h, err := wrap(h)
		if err != nil {
			return nil, err
		}
		return &observedHandler{Handler: h, obs: obs}, nil
	}
}

type observedHandler struct {
	mysql.Handler
	obs StatementObserver
}

// ComQuery implements mysql.Handler.
func (h *observedHandler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	start := time.Now()
	err := h.Handler.ComQuery(ctx, c, query, callback)
	h.obs(StatementKind(query), time.Since(start), err)
	return err
}

// ComMultiQuery implements mysql.Handler: one statement of a multi-statement string.
func (h *observedHandler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	start := time.Now()
	rest, err := h.Handler.ComMultiQuery(ctx, c, query, callback)
	h.obs(StatementKind(query), time.Since(start), err)
	return rest, err
}

// ComStmtExecute implements mysql.Handler.
func (h *observedHandler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	start := time.Now()
	err := h.Handler.ComStmtExecute(ctx, c, prepare, callback)
	h.obs(StatementKind(prepare.PrepareStmt), time.Since(start), err)
	return err
}
