package route

import (
	"strings"

	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// prepare handles PREPARE name FROM 'text' | @var. It goes to the RW, which validates it;
// once it succeeds the statement is replayed on any connection that later EXECUTEs it.
func (s *Session) prepare(text string, n *sqlparser.Prepare) info {
	in := rw(text, "prepared statement")
	p := &prepared{name: strings.ToLower(n.Name), text: n.Expr, known: true, db: s.replay.db}
	if strings.HasPrefix(n.Expr, "@") {
		p.text, p.known = "", false
		p.text, p.known = s.userStrs[userVarName(n.Expr)]
	}
	in.fx.prepare = p
	return in
}

// execute routes EXECUTE name by the prepared statement's own text. USING @vars reads those
// variables.
func (s *Session) execute(text string, n *sqlparser.Execute) info {
	p, ok := s.prepared[strings.ToLower(n.Name)]
	if !ok {
		return rw(text, "unknown prepared statement")
	}
	if !p.known {
		in := rw(text, "prepared from an unknown text")
		in.fx.unknown, in.fx.write = true, true
		return in
	}
	in := s.classifyPrepared(p) // in.text stays the prepared text: its first keyword counts
	for _, v := range n.VarList {
		in.reads = append(in.reads, userVarName(v))
	}
	if !in.read {
		in.reason = "execute: " + in.reason
	}
	// Preparing changed nothing; the effects are those of the statement executed.
	in.fx.prepare, in.fx.deallocate = nil, ""
	return in
}

// classifyPrepared classifies a prepared statement's text, parsed once: classification
// reads the tree and the session's state, and only the latter changes between executions.
func (s *Session) classifyPrepared(p *prepared) info {
	if !p.parsed {
		p.st, _ = parse(p.text) // nil on error
		p.parsed = true
	}
	return s.classify(p.text, p.st)
}
