package route

import (
	"fmt"
	"strings"

	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// set classifies a SET statement, one assignment at a time. Session variables set to
// literals, SET NAMES and user variables set to literals are replayed on every backend
// connection; they are also sent to the RW, which validates them (a bad value fails there,
// and the Session records nothing).
func (s *Session) set(text string, n *sqlparser.Set) info {
	in := rw(text, "session state")
	in.pure = false
	var strata, other int
	for _, e := range n.Exprs {
		if strings.EqualFold(e.Name.String(), ConsistencyVar) {
			strata++
			s.setConsistency(&in, e)
			continue
		}
		other++
		s.setOne(&in, text, len(n.Exprs), e)
	}
	if strata > 0 {
		in = info{text: text, intercept: true, reason: "proxy variable", fx: effects{consistency: in.fx.consistency}, errText: in.errText}
		if other > 0 {
			in.errText = "SET " + ConsistencyVar + " must be a statement of its own"
		}
	}
	return in
}

// because sets the reason a SET goes to the RW unless one was already given.
func (in *info) because(reason string) {
	if in.reason == "session state" {
		in.reason = reason
	}
}

func (s *Session) setOne(in *info, text string, exprs int, e *sqlparser.SetVarExpr) {
	name := strings.ToLower(e.Name.String())
	l := literal(e.Expr, s.noBackslash())
	switch e.Scope {
	case sqlparser.SetScope_User:
		if l.ok && !l.def {
			in.fx.userVars = append(in.fx.userVars, assign{name: userVarName(name), value: l.sql, isStr: l.isStr, raw: l.raw})
			return
		}
		in.because("assigns user variables")
		in.fx.rwVars = append(in.fx.rwVars, userVarName(name))
		return
	case sqlparser.SetScope_Global, sqlparser.SetScope_Persist, sqlparser.SetScope_PersistOnly:
		in.because("node-specific: global variable")
		return
	}
	switch name {
	case "password":
		in.because("account management")
		in.fx.write = true
		return
	case "autocommit":
		in.because("autocommit")
		in.fx.autocommit = -1 // until proven on: conservative
		if l.ok && (l.def || truth(l.sql)) {
			in.fx.autocommit = 1
		}
		return
	case sqlparser.TransactionStr:
		if e.Scope == sqlparser.SetScope_None {
			in.because("next transaction characteristics")
			in.fx.nextTxn = true
			return
		}
		// SET SESSION TRANSACTION …: every later transaction of the session.
		kind := "isolation"
		v := strings.ToLower(sqlparser.String(e.Expr))
		if strings.Contains(v, "read only") || strings.Contains(v, "read write") {
			kind = "access"
		}
		in.fx.sysVars = append(in.fx.sysVars, assign{name: "transaction " + kind,
			value: "SET SESSION TRANSACTION " + strings.ToUpper(strings.Trim(v, "'"))})
		return
	case "names", "charset":
		stmt := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(text), ";"))
		if exprs > 1 {
			if strings.Contains(strings.ToLower(text), "collate") || !l.ok {
				in.because("session variables the proxy cannot replay")
				in.fx.unreplayable = append(in.fx.unreplayable, name)
				return
			}
			stmt = "SET NAMES " + l.sql
			if name == "charset" {
				stmt = "SET CHARACTER SET " + l.sql
			}
		}
		in.fx.names = stmt
		return
	case "insert_id", "last_insert_id", "identity", "rand_seed1", "rand_seed2",
		"pseudo_thread_id", "gtid_next", "sql_log_bin":
		in.because("node-local session variable")
		in.fx.nodeLocal = append(in.fx.nodeLocal, name)
		return
	}
	if !l.ok {
		in.because("session variables the proxy cannot replay")
		in.fx.unreplayable = append(in.fx.unreplayable, name)
		return
	}
	value := ""
	if !l.def {
		value = fmt.Sprintf("SET @@SESSION.%s = %s", quoteIdent(name), l.sql)
	}
	in.fx.sysVars = append(in.fx.sysVars, assign{name: name, value: value})
}

// setConsistency handles SET [SESSION] strata_read_consistency = 'level'.
func (s *Session) setConsistency(in *info, e *sqlparser.SetVarExpr) {
	if e.Scope != sqlparser.SetScope_None && e.Scope != sqlparser.SetScope_Session {
		in.errText = ConsistencyVar + " is a session variable; the proxy's flag sets the default"
		return
	}
	l := literal(e.Expr, false)
	if l.def {
		c := s.cfg.Default
		in.fx.consistency = &c
		return
	}
	if !l.ok {
		in.errText = ConsistencyVar + " must be set to a literal"
		return
	}
	c, err := ParseConsistency(strings.Trim(l.sql, "'"))
	if err != nil {
		in.errText = err.Error()
		return
	}
	in.fx.consistency = &c
}

// lit is a constant expression rendered as SQL: strings, numbers, NULL, TRUE/FALSE, and bare
// words (SET time_zone = SYSTEM) as strings.
type lit struct {
	sql   string
	ok    bool   // a constant the proxy can replay
	def   bool   // DEFAULT
	isStr bool   // a string, whose value is raw
	raw   string // the string's value
}

// literal renders e; noBackslash is whether the session's sql_mode has NO_BACKSLASH_ESCAPES.
func literal(e sqlparser.Expr, noBackslash bool) lit {
	switch v := e.(type) {
	case *sqlparser.SQLVal:
		if v.Type == sqlparser.StrVal {
			return lit{sql: quoteString(string(v.Val), noBackslash), ok: true, isStr: true, raw: string(v.Val)}
		}
		return lit{sql: sqlparser.String(v), ok: true}
	case *sqlparser.BoolVal:
		return lit{sql: sqlparser.String(v), ok: true}
	case *sqlparser.NullVal:
		return lit{sql: "NULL", ok: true}
	case *sqlparser.Default:
		return lit{sql: "DEFAULT", ok: true, def: true}
	case *sqlparser.ColName:
		if v.Qualifier.IsEmpty() && !strings.HasPrefix(v.Name.String(), "@") {
			n := v.Name.String()
			return lit{sql: quoteString(n, noBackslash), ok: true, isStr: true, raw: n}
		}
	}
	return lit{}
}

// noBackslash reports whether the sql_mode the session set has NO_BACKSLASH_ESCAPES.
func (s *Session) noBackslash() bool {
	for _, e := range s.replay.entries {
		if e.key == "sql_mode" {
			return strings.Contains(strings.ToUpper(e.stmt), "NO_BACKSLASH_ESCAPES")
		}
	}
	return false
}

// truth reads an autocommit value: 1, ON, TRUE.
func truth(lit string) bool {
	switch strings.ToLower(strings.Trim(lit, "'")) {
	case "1", "on", "true":
		return true
	}
	return false
}

// quoteIdent quotes an identifier with backticks.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// quoteString renders a string literal: quotes doubled, and backslashes doubled unless the
// sql_mode in force where it is replayed has NO_BACKSLASH_ESCAPES.
func quoteString(s string, noBackslash bool) string {
	if !noBackslash {
		s = strings.ReplaceAll(s, `\`, `\\`)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
