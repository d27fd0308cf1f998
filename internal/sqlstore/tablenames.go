package sqlstore

import (
	"context"
	"strings"

	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// The table of a result set's column, as the statement spells it.
//
// MySQL's column definition names the column's table as the statement wrote it: the alias
// (`SELECT * FROM (SELECT 1 AS one) AS A` gives table "A"), or the table's name. GMS's
// planbuilder lowercases table names and aliases (planbuilder/from.go) and its handler sends
// that (server/handler.go, schemaToFields: Table and OrgTable are the column's Source), so
// clients that key columns by table (go-sql-driver's columnsWithAlias, PHP's
// PDO::FETCH_NAMED with table prefixes) saw "a.one". tableSpellings reads the spellings from
// the statement, parsed only when a column's table is written in another case there.

// tableSpellings gives the spellings of the tables and aliases of one statement.
type tableSpellings struct {
	query  string
	parsed bool
	alias  map[string]string // lowercased alias or table name -> as written
	orig   map[string]string // lowercased alias of a table -> the table's name as written
}

// newTableSpellings returns the spellings of query's first statement, read when first needed.
func newTableSpellings(query string) *tableSpellings {
	return &tableSpellings{query: query}
}

// fix returns fields with Table (and OrgTable, for an alias) as the statement spells them,
// and whether they differ: when they do, a copy.
func (s *tableSpellings) fix(fields []*querypb.Field) ([]*querypb.Field, bool) {
	if s == nil {
		return fields, false
	}
	var out []*querypb.Field
	for i, f := range fields {
		if f.Table == "" || !s.respelled(f.Table) {
			continue
		}
		s.parse()
		written, ok := s.alias[f.Table]
		if !ok || written == f.Table {
			continue
		}
		orgTable := f.OrgTable
		if orgTable == f.Table {
			if o, ok := s.orig[f.Table]; ok {
				orgTable = o
			} else {
				orgTable = written
			}
		}
		if out == nil {
			out = append([]*querypb.Field(nil), fields...)
		}
		out[i] = &querypb.Field{Name: f.Name, Type: f.Type, Table: written, OrgTable: orgTable,
			Database: f.Database, OrgName: f.OrgName, ColumnLength: f.ColumnLength,
			Charset: f.Charset, Decimals: f.Decimals, Flags: f.Flags}
	}
	if out == nil {
		return fields, false
	}
	return out, true
}

// respelled reports whether the query holds name, as a whole word, in another case: only
// then can the statement spell the table otherwise (a cheap test before parsing).
func (s *tableSpellings) respelled(name string) bool {
	lower := strings.ToLower(s.query)
	if len(lower) != len(s.query) {
		return true // case mapping changed lengths: let the parser decide
	}
	for from := 0; ; {
		i := strings.Index(lower[from:], name)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(name)
		if (i == 0 || !identByte(lower[i-1])) && (end == len(lower) || !identByte(lower[end])) &&
			s.query[i:end] != name {
			return true
		}
		from = i + 1
	}
}

// identByte reports whether b can be part of an unquoted identifier.
func identByte(b byte) bool {
	return b == '_' || b == '$' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

// parse reads the aliases and table names of the query's first statement, once.
func (s *tableSpellings) parse() {
	if s.parsed {
		return
	}
	s.parsed = true
	s.alias, s.orig = map[string]string{}, map[string]string{}
	stmt, _, err := ast.ParseOne(context.Background(), s.query)
	if err != nil || stmt == nil {
		return
	}
	_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
		at, ok := n.(*ast.AliasedTableExpr)
		if !ok {
			return true, nil
		}
		var name string
		if tn, ok := at.Expr.(ast.TableName); ok {
			name = tn.Name.String()
		}
		switch {
		case !at.As.IsEmpty():
			a := at.As.String()
			s.alias[strings.ToLower(a)] = a
			if name != "" {
				s.orig[strings.ToLower(a)] = name
			}
		case name != "":
			if _, taken := s.alias[strings.ToLower(name)]; !taken {
				s.alias[strings.ToLower(name)] = name
			}
		}
		return true, nil
	}, stmt)
}
