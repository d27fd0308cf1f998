package route

import (
	"errors"
	"fmt"

	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// Session is the routing state of one client session. It is not safe for concurrent use:
// the edge drives each session from one goroutine, calling Route (or PrepareBinary,
// ExecuteBinary) and then Done for every statement string.
type Session struct {
	cfg         *Config
	consistency Consistency

	inTxn         bool // inside a transaction (explicit, XA, or autocommit=0 after a statement)
	autocommitOff bool // autocommit=0
	nextTxn       bool // SET TRANSACTION waits for the next transaction on the RW
	lockTables    bool
	namedLocks    bool
	temp          map[string]bool // temporary tables by name
	tempSticky    bool            // a temporary table was renamed: assume some exist
	call          bool            // a procedure ran: it may have left state on the connection
	handler       bool
	unknown       bool            // an unclassified statement succeeded
	rwVars        map[string]bool // user variables whose value lives only on the RW connection
	nodeLocal     map[string]bool // node-local session variables set on the RW connection
	unreplayable  map[string]bool // session variables set to values the proxy cannot replay

	userStrs map[string]string    // user variables set to string literals: name → value
	prepared map[string]*prepared // by lower-case name, "#id" for the binary protocol
	replay   replayState

	lastCommit    LSN  // the session's last commit LSN, as the RW reported it
	dirty         bool // a write succeeded whose commit LSN is not known yet
	commitUnknown bool // a commit happened whose LSN the RW did not report
	prev          Target
	gen           uint64

	pending *pending
}

// pending is the statement string routed and not yet Done.
type pending struct {
	infos []info
	d     Decision
}

// NewSession returns the state of a new client session, at the Config's default level.
func NewSession(cfg *Config) *Session {
	if cfg == nil {
		cfg = &Config{}
	}
	s := &Session{cfg: cfg}
	s.Reset()
	return s
}

// Reset returns the session to the state of a new connection, as COM_RESET_CONNECTION and
// COM_CHANGE_USER do; the last commit LSN is kept, so reads still see the session's writes.
func (s *Session) Reset() {
	*s = Session{
		cfg:           s.cfg,
		consistency:   s.cfg.Default,
		temp:          map[string]bool{},
		rwVars:        map[string]bool{},
		nodeLocal:     map[string]bool{},
		unreplayable:  map[string]bool{},
		userStrs:      map[string]string{},
		prepared:      map[string]*prepared{},
		lastCommit:    s.lastCommit,
		dirty:         s.dirty,
		commitUnknown: s.commitUnknown,
		prev:          Proxy,
		gen:           s.gen + 1,
	}
}

// Route decides where the statement string text goes. A string of several statements goes to
// the RW unless every one is a read. Route must be followed by Done; a Route without one
// counts the earlier statement as failed and pins the session's RW connection, since that
// statement may have changed it.
func (s *Session) Route(text string) Decision {
	return s.routeInfos(s.split(text))
}

// split parses text into its statements and classifies each. The parser is third-party code
// fed client input: a panic in it is taken for a parse error.
func (s *Session) split(text string) []info {
	st, err := parse(text)
	if err == nil {
		return []info{s.classify(text, st)}
	}
	if errors.Is(err, sqlparser.ErrEmpty) {
		return []info{rw(text, "empty statement")}
	}
	pieces := splitPieces(text)
	if len(pieces) <= 1 {
		return []info{s.classify(text, nil)}
	}
	var out []info
	for _, p := range pieces {
		st, err := parse(p)
		if errors.Is(err, sqlparser.ErrEmpty) {
			continue
		}
		out = append(out, s.classify(p, st))
	}
	if len(out) == 0 {
		return []info{rw(text, "empty statement")}
	}
	return out
}

// parse is sqlparser.Parse with a panic turned into an error; st is nil on error.
func parse(text string) (st sqlparser.Statement, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	st, err = sqlparser.Parse(text)
	if err != nil {
		st = nil
	}
	return st, err
}

// splitPieces is sqlparser.SplitStatementToPieces, nil on error or panic.
func splitPieces(text string) (pieces []string) {
	defer func() {
		if r := recover(); r != nil {
			pieces = nil
		}
	}()
	pieces, err := sqlparser.SplitStatementToPieces(text)
	if err != nil {
		return nil
	}
	return pieces
}

// Database is the session's current database ("" for none), as the statements that
// succeeded left it.
func (s *Session) Database() string {
	return s.replay.db
}

// Consistency is the session's read consistency level.
func (s *Session) Consistency() Consistency {
	return s.consistency
}
