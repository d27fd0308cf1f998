package sqlstore

import (
	"context"
	"fmt"
	"io"

	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// execDirect runs a plan the way GMS's handler does (Handler.doQuery with resultForOkIter,
// resultForMax1RowIter or resultForDefaultIter), which ComExecuteBound cannot: it does not
// pass the analyser's query flags, and so spools every result through goroutines. Rows are
// read, converted and sent here by the statement's own goroutine (the connection's watcher,
// guardHandler.watchPeer, stops it if the client goes).
func (p *preparedHandler) execDirect(ctx context.Context, c *mysql.Conn, query string, node sql.Node, t *planTemplate, callback func(*sqltypes.Result) error) error {
	sqlCtx, err := p.sm().NewContextWithQuery(ctx, c, query)
	if err != nil {
		return err
	}
	sqlCtx, err = sqlCtx.ProcessList.BeginQuery(sqlCtx, query)
	if err != nil {
		return err
	}
	defer sqlCtx.ProcessList.EndQuery(sqlCtx)
	if err := sql.SessionCommandBegin(sqlCtx.Session); err != nil {
		return err
	}
	defer sql.SessionCommandEnd(sqlCtx.Session)
	qFlags := &sql.QueryFlags{}
	qFlags.Set(sql.QFlagDeferProjections)
	if t.max1Row {
		qFlags.Set(sql.QFlagMax1Row)
	}
	schema, iter, _, err := p.eng.PrepQueryPlanForExecution(sqlCtx, query, node, qFlags)
	if err != nil {
		return sql.CastSQLError(err)
	}
	var res *sqltypes.Result
	switch {
	case types.IsOkResultSchema(schema):
		res, err = okResult(sqlCtx, iter)
	case t.max1Row:
		// The row's values may point into buf until the callback has sent them.
		buf := sql.ByteBufPool.Get().(*sql.ByteBuffer)
		defer func() {
			buf.Reset()
			sql.ByteBufPool.Put(buf)
		}()
		res, err = oneRowResult(sqlCtx, schema, iter, t.fields, buf)
	default:
		res, err = rowsResult(sqlCtx, schema, iter, t.fields, callback)
	}
	if err != nil {
		return sql.CastSQLError(err)
	}
	if err := p.setStatus(sqlCtx, c); err != nil {
		return err
	}
	return callback(res)
}

// setStatus sets the connection's autocommit and in-transaction status flags from the
// session, for the packets that end the result.
func (p *preparedHandler) setStatus(sqlCtx *sql.Context, c *mysql.Conn) error {
	autocommit, err := plan.IsSessionAutocommit(sqlCtx)
	if err != nil {
		return sql.CastSQLError(err)
	}
	if autocommit {
		c.StatusFlags |= uint16(mysql.ServerStatusAutocommit)
	} else {
		c.StatusFlags &^= uint16(mysql.ServerStatusAutocommit)
	}
	if sqlCtx.GetTransaction() != nil {
		c.StatusFlags |= uint16(mysql.ServerInTransaction)
	} else {
		c.StatusFlags &^= uint16(mysql.ServerInTransaction)
	}
	return nil
}

// rowsBatch is how many rows go to the client per callback, as in GMS's handler.
const rowsBatch = 128

// rowsResult sends the rows of iter, rowsBatch at a time, and returns what is left to send
// (with the fields, so that an empty result still has its columns).
func rowsResult(ctx *sql.Context, schema sql.Schema, iter sql.RowIter, fields []*querypb.Field, callback func(*sqltypes.Result) error) (res *sqltypes.Result, err error) {
	iter, projs := server.GetDeferredProjections(iter)
	defer func() {
		if cerr := iter.Close(ctx); err == nil && cerr != nil {
			res, err = nil, cerr
		}
	}()
	// The rows' values point into buf until sent, and a server-side cursor sends them after
	// the callback has returned: the buffer is the statement's own, not a pooled one.
	buf := sql.NewByteBuffer(4096)
	res = &sqltypes.Result{Fields: fields}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, err := iter.Next(ctx)
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		out, err := server.RowToSQL(ctx, schema, row, projs, buf)
		if err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, out)
		res.RowsAffected++
		if len(res.Rows) == rowsBatch {
			if err := callback(res); err != nil {
				return nil, err
			}
			res = &sqltypes.Result{Fields: fields}
		}
	}
}

func okResult(ctx *sql.Context, iter sql.RowIter) (*sqltypes.Result, error) {
	row, err := iter.Next(ctx)
	if err != nil {
		iter.Close(ctx)
		return nil, err
	}
	if _, err := iter.Next(ctx); err != io.EOF {
		iter.Close(ctx)
		return nil, fmt.Errorf("result schema iterator returned more than one row")
	}
	if err := iter.Close(ctx); err != nil {
		return nil, err
	}
	ok, isOK := row[0].(types.OkResult)
	if !isOK {
		return nil, fmt.Errorf("sqlstore: expected an OK result, got %T", row[0])
	}
	res := &sqltypes.Result{RowsAffected: ok.RowsAffected, InsertID: ok.InsertID}
	if ok.Info != nil {
		res.Info = ok.Info.String()
	}
	return res, nil
}

func oneRowResult(ctx *sql.Context, schema sql.Schema, iter sql.RowIter, fields []*querypb.Field, buf *sql.ByteBuffer) (*sqltypes.Result, error) {
	defer iter.Close(ctx)
	row, err := iter.Next(ctx)
	if err == io.EOF {
		return &sqltypes.Result{Fields: fields}, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := iter.Next(ctx); err != io.EOF {
		return nil, fmt.Errorf("result max1Row iterator returned more than one row")
	}
	out, err := server.RowToSQL(ctx, schema, row, nil, buf)
	if err != nil {
		return nil, err
	}
	return &sqltypes.Result{Fields: fields, Rows: [][]sqltypes.Value{out}, RowsAffected: 1}, nil
}
