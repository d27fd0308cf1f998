package sqlstore

import (
	"fmt"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// An UPDATE that changes a value only in letter case or accents ('b' to 'B' in a _ci column)
// changes the row in MySQL: whether a row changed is decided on its bytes (compare_records),
// and so are "Rows matched / Changed" and ROW_COUNT(). GMS's update iterator decides it with
// the column types' comparison, collation and all, and skips such a row: the old value stays.
// The rule below puts a node between the UPDATE and its source that GMS's iterator takes for
// the table being updated (plan.GetUpdatable takes the first node that is an updatable table):
// its schema gives every string column the binary collation of its character set, and it hands
// the row changes to the real updater. Nothing else reads that schema.

func installBinaryChanges(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleBinaryChanges, Apply: binaryChangesRule})
}

func binaryChangesRule(ctx *sql.Context, a *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if n.IsReadOnly() || a.ExecBuilder == nil {
		return n, transform.SameTree, nil
	}
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		u, ok := n.(*plan.Update)
		if !ok {
			return n, transform.SameTree, nil
		}
		if _, done := u.Child.(*binaryChanges); done {
			return n, transform.SameTree, nil
		}
		table, err := plan.GetUpdatable(u.Child)
		if err != nil { // an UPDATE … JOIN, or nothing GMS can update: left as it is
			return n, transform.SameTree, nil
		}
		base := table.Schema()
		if fk, ok := table.(*plan.ForeignKeyHandler); ok {
			base = fk.Sch // its Schema() is its source's: old and new rows side by side
		}
		sch, changed, err := binarySchema(base)
		if err != nil || !changed {
			return n, transform.SameTree, err
		}
		c, err := u.WithChildren(&binaryChanges{UnaryNode: plan.UnaryNode{Child: u.Child}, exec: a.ExecBuilder, sch: sch})
		if err != nil {
			return nil, transform.SameTree, err
		}
		return c, transform.NewTree, nil
	})
}

// binarySchema is sch with every string column in its character set's binary collation, and
// whether any column changed.
func binarySchema(sch sql.Schema) (sql.Schema, bool, error) {
	out := make(sql.Schema, len(sch))
	changed := false
	for i, c := range sch {
		cc := *c
		if t, ok := c.Type.(sql.TypeWithCollation); ok {
			if bin := t.Collation().CharacterSet().BinaryCollation(); bin != t.Collation() {
				nt, err := t.WithNewCollation(bin)
				if err != nil {
					return nil, false, fmt.Errorf("sqlstore: column %s: %w", c.Name, err)
				}
				cc.Type, changed = nt, true
			}
		}
		out[i] = &cc
	}
	return out, changed, nil
}

// binaryChanges passes its child's rows through, and is the table an UPDATE updates as far as
// GMS's iterator knows: with a schema that compares strings by their bytes.
type binaryChanges struct {
	plan.UnaryNode
	exec sql.NodeExecBuilder
	sch  sql.Schema
}

// updatable is the real table under the node (a table, or the foreign key handler over it),
// found in the child each time: a reused prepared plan gets new tables for each execution.
func (b *binaryChanges) updatable() (sql.UpdatableTable, error) { return plan.GetUpdatable(b.Child) }

var (
	_ sql.ExecSourceRel      = (*binaryChanges)(nil)
	_ sql.UpdatableTable     = (*binaryChanges)(nil)
	_ sql.CollationCoercible = (*binaryChanges)(nil)
)

// String implements sql.Node and sql.Table.
func (b *binaryChanges) String() string { return b.Child.String() }

// Schema implements sql.Node and sql.Table: the table's, strings in binary collations.
func (b *binaryChanges) Schema() sql.Schema { return b.sch }

// IsReadOnly implements sql.Node.
func (b *binaryChanges) IsReadOnly() bool { return false }

// CollationCoercibility implements sql.CollationCoercible.
func (b *binaryChanges) CollationCoercibility(ctx *sql.Context) (sql.CollationID, byte) {
	return sql.GetCoercibility(ctx, b.Child)
}

// WithChildren implements sql.Node.
func (b *binaryChanges) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(b, len(children), 1)
	}
	c := *b
	c.Child = children[0]
	return &c, nil
}

// RowIter implements sql.ExecSourceRel: the child's rows, unchanged.
func (b *binaryChanges) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	return b.exec.Build(ctx, b.Child, row)
}

// Name implements sql.Table.
func (b *binaryChanges) Name() string {
	if t, err := b.updatable(); err == nil {
		return t.Name()
	}
	return ""
}

// Collation implements sql.Table.
func (b *binaryChanges) Collation() sql.CollationID {
	if t, err := b.updatable(); err == nil {
		return t.Collation()
	}
	return sql.Collation_Default
}

// Partitions implements sql.Table.
func (b *binaryChanges) Partitions(ctx *sql.Context) (sql.PartitionIter, error) {
	t, err := b.updatable()
	if err != nil {
		return nil, err
	}
	return t.Partitions(ctx)
}

// PartitionRows implements sql.Table.
func (b *binaryChanges) PartitionRows(ctx *sql.Context, p sql.Partition) (sql.RowIter, error) {
	t, err := b.updatable()
	if err != nil {
		return nil, err
	}
	return t.PartitionRows(ctx, p)
}

// Updater implements sql.UpdatableTable: the real table's, wrapped so that GMS's count of
// changed rows uses this node's schema too (it takes a foreign key handler's own otherwise).
func (b *binaryChanges) Updater(ctx *sql.Context) sql.RowUpdater {
	t, err := b.updatable()
	if err != nil {
		return failedUpdater{err}
	}
	return binaryUpdater{t.Updater(ctx)}
}

// binaryUpdater is a table's updater under another type.
type binaryUpdater struct{ sql.RowUpdater }

// failedUpdater refuses every change with the error that left the node without a table.
type failedUpdater struct{ err error }

func (f failedUpdater) StatementBegin(*sql.Context)                 {}
func (f failedUpdater) DiscardChanges(*sql.Context, error) error    { return nil }
func (f failedUpdater) StatementComplete(*sql.Context) error        { return nil }
func (f failedUpdater) Update(*sql.Context, sql.Row, sql.Row) error { return f.err }
func (f failedUpdater) Close(*sql.Context) error                    { return nil }
