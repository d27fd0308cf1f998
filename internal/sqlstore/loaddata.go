package sqlstore

import (
	"errors"
	"io"
	"os"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/vitess/go/mysql"
)

// LOAD DATA [LOCAL] INFILE.
//
// loadDataGuard reads the file with infileReader (MySQL's escapes, infile.go) when the
// statement assigns no user variables and has no SET clause; otherwise GMS's own reader
// runs. For LOCAL it also tells the connection's guardConn that the client is about to send
// a file: the packets up to the empty one that ends it are data, not commands (guardConn
// answered the empty packet with "Unknown command", so LOAD DATA LOCAL failed with every
// client).

// erClientLocalFilesDisabled is MySQL's ER_CLIENT_LOCAL_FILES_DISABLED.
const erClientLocalFilesDisabled = 3948

type loadDataGuard struct{}

// Build implements sql.NodeExecBuilder.
func (loadDataGuard) Build(ctx *sql.Context, n sql.Node, _ sql.Row) (sql.RowIter, error) {
	ld, ok := n.(*plan.LoadData)
	if !ok {
		return nil, nil
	}
	if ld.Local {
		if _, v, ok := sql.SystemVariables.GetGlobal("local_infile"); !ok || !truthy(v) {
			return nil, mysql.NewSQLError(erClientLocalFilesDisabled, "42000",
				"Loading local data is disabled; this must be enabled on both the client and server sides")
		}
		if s := sessionOf(ctx); s != nil && s.guard != nil {
			s.guard.expectInfile()
		}
	}
	if !plainLoad(ld) {
		return nil, nil
	}
	var r io.ReadCloser
	var err error
	if ld.Local {
		r, err = ctx.LoadInfile(ld.File)
	} else {
		r, err = os.Open(ld.File) // privilegeGuard has checked FILE and secure_file_priv
		if err != nil {
			err = sql.ErrLoadDataCannotOpen.New(err.Error())
		}
	}
	if err != nil {
		return nil, err
	}
	return &loadIter{n: ld, src: r,
		in:   newInfileReader(r, ld.FieldsTerminatedBy, ld.FieldsEnclosedBy, ld.FieldsEscapedBy, ld.LinesStartingBy, ld.LinesTerminatedBy),
		skip: ld.IgnoreNum}, nil
}

// plainLoad reports whether n assigns no user variables and has no SET clause.
func plainLoad(n *plan.LoadData) bool {
	for _, e := range n.UserVars {
		if e != nil {
			return false
		}
	}
	for _, e := range n.SetExprs {
		if e != nil {
			return false
		}
	}
	return true
}

func truthy(v any) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	n, ok := toUint(v)
	return ok && n != 0
}

// loadIter makes rows of n's destination schema from the file's lines: the fields in
// order, NULL for \N, and, as GMS's reader does, for an empty field of a column that is not
// a string its default (or NULL); the columns after the last field get their defaults when
// the statement names no columns.
type loadIter struct {
	n    *plan.LoadData
	src  io.ReadCloser
	in   *infileReader
	skip int64
}

// Next implements sql.RowIter.
func (it *loadIter) Next(ctx *sql.Context) (sql.Row, error) {
	for ; it.skip > 0; it.skip-- {
		if _, err := it.in.next(); err != nil {
			return nil, err
		}
	}
	fields, err := it.in.next()
	if err != nil {
		return nil, err
	}
	sch := it.n.DestSch
	row := make(sql.Row, len(sch))
	var later []int // non-literal defaults, which may read the other columns
	for i, col := range sch {
		switch {
		case i < len(fields) && fields[i].null:
		case i < len(fields) && fields[i].val != "":
			row[i] = fields[i].val
		case i < len(fields):
			if _, ok := col.Type.(sql.StringType); ok {
				row[i] = ""
			} else if col.Default != nil {
				later = append(later, i)
			}
		case len(it.n.ColNames) == 0:
			if !col.Nullable && col.Default == nil && !col.AutoIncrement {
				return nil, sql.ErrInsertIntoNonNullableDefaultNullColumn.New(col.Name)
			}
			if col.Default != nil {
				later = append(later, i)
			}
		}
	}
	for pass := 0; pass < 2; pass++ {
		for _, i := range later {
			d := sch[i].Default
			if d.IsLiteral() != (pass == 0) {
				continue
			}
			if row[i], err = d.Eval(ctx, row); err != nil {
				return nil, err
			}
		}
	}
	return row, nil
}

// Close implements sql.RowIter: the rest of a client's file is read and dropped.
func (it *loadIter) Close(*sql.Context) error {
	err := it.src.Close()
	if errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	return err
}
