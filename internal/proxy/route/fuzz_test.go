package route

import (
	"strings"
	"testing"
)

// oracleFirstWord is an independent, simpler reading of a statement's first word: strip
// white space and comments (entering /*! comments, whose body MySQL runs), then take the
// letters.
func oracleFirstWord(s string) string {
	for {
		t := strings.TrimLeft(s, " \t\n\r\f\v")
		switch {
		case strings.HasPrefix(t, "#"), strings.HasPrefix(t, "-- "), strings.HasPrefix(t, "--\t"),
			strings.HasPrefix(t, "--\n"), strings.HasPrefix(t, "--\r"):
			if i := strings.IndexByte(t, '\n'); i >= 0 {
				s = t[i+1:]
				continue
			}
			return ""
		case strings.HasPrefix(t, "/*!"):
			s = strings.TrimLeft(t[3:], "0123456789")
			continue
		case strings.HasPrefix(t, "/*"):
			if i := strings.Index(t[2:], "*/"); i >= 0 {
				s = t[i+4:]
				continue
			}
			return ""
		}
		end := 0
		for end < len(t) && (t[end] >= 'a' && t[end] <= 'z' || t[end] >= 'A' && t[end] <= 'Z') {
			end++
		}
		return strings.ToLower(t[:end])
	}
}

// isWriteKeyword reports first keywords of statements that write, change the schema or
// change session or transaction state.
func isWriteKeyword(w string) bool {
	switch w {
	case "insert", "update", "delete", "replace", "load", "create", "alter", "drop", "rename",
		"truncate", "grant", "revoke", "call", "lock", "set", "begin", "start", "commit",
		"rollback", "xa", "handler", "kill", "prepare", "execute", "use", "do", "analyze",
		"optimize", "repair", "flush", "purge", "install", "uninstall", "import", "savepoint",
		"release", "unlock", "deallocate", "change", "reset", "shutdown":
		return true
	}
	return false
}

// FuzzRoute: arbitrary statement text never panics, and whatever opens with a write or DDL
// keyword, in any case and behind any comments, never goes to an RO — neither in a fresh
// session nor after the statements before it.
func FuzzRoute(f *testing.F) {
	for _, seed := range []string{
		"SELECT 1", "select * from t where id = 1", "INSERT INTO t VALUES (1)",
		"/* c */ DELETE FROM t", "-- c\nUPDATE t SET a = 1", "# c\nreplace into t values (1)",
		"/*!40101 DROP TABLE t */", "/*!*/ INSERT INTO t VALUES (1)", "iNsErT into t values(1)",
		"SELECT 1; DELETE FROM t", "CREATE TEMPORARY TABLE x (a int)", "SET @x = (SELECT 1)",
		"SELECT @x := 1", "WITH a AS (SELECT 1) DELETE FROM t", "(SELECT 1) UNION (SELECT 2)",
		"PREPARE s FROM 'DELETE FROM t'", "EXECUTE s", "SET autocommit = 0", "BEGIN",
		"SELECT GET_LOCK('a', 1)", "LOCK TABLES t WRITE", "XA START 'x'", "HANDLER t OPEN",
		"SET strata_read_consistency = 'eventual'", "explain analyze delete from t",
		"SELECT * FROM t FOR UPDATE", "SELECT 'unterminated", "/* unterminated", "",
		"SELECT 1 INTO @x", "DO 1", "CALL p()", "TABLE t", "VALUES ROW(1)", "\x00\xff",
		"SELECT `a` FROM `t` WHERE b = 'x''y' AND c = \"z\"", "SHOW WARNINGS",
	} {
		f.Add(seed, "SELECT 1")
	}
	cfg := NewConfig(SessionConsistency)
	f.Fuzz(func(t *testing.T, text, before string) {
		check := func(s *Session, text string, d Decision) {
			if d.Target == RO && isWriteKeyword(oracleFirstWord(text)) {
				t.Fatalf("%q goes to an RO: %v", text, d)
			}
		}
		s := NewSession(cfg)
		check(s, text, s.Route(text))
		s.Done(Result{OK: true, CommitLSN: 7})

		s = NewSession(cfg)
		for _, r := range []Result{{OK: true}, {OK: false, Completed: 1, ErrCode: 1213}} {
			s.Route(before)
			s.Done(r)
			check(s, text, s.Route(text))
			s.Done(Result{OK: true, HasStatus: true, Status: StatusAutocommit})
		}
		_ = s.Describe()
		_ = s.Replay(RO)
		s.Failover()
		check(s, text, s.Route(text))
	})
}
