package sqlstore

import (
	"net"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"
)

// Logins that do not reveal which users exist.
//
// GMS's auth methods (sql/mysql_db/auth.go) only take a user that exists with their plugin
// (HandleUser), and vitess's handshake (server.go, after negotiateAuthMethod) answers a user
// no method takes with error 2012 "No authentication methods available", while a known user
// with a wrong password gets 1045: user names could be probed. authServer wraps GMS's auth
// server so that a user no method takes (unknown, or known with a plugin that cannot be used
// on this connection) goes through mysql_native_password, the default plugin, exactly as a
// known user of that plugin with a wrong password does: the same auth switch, then the same
// 1045 "Access denied for user 'u'@'host' (using password: YES|NO)" as MySQL words it.
//
// It also keeps, as MySQL does, the connection beyond max_connections (guardListener lets
// max_connections + 1 in) for a user with SUPER or CONNECTION_ADMIN: anyone else gets 1040
// once authenticated.
//
// With the cluster secret (proxySecret), it also offers the proxy's login method
// (proxyauth.go), by which the Strata proxy logs in for its clients.
type authServer struct {
	mysql.AuthServer
	mdb     *mysql_db.MySQLDb // nil: no reserved connection
	methods []mysql.AuthMethod
	native  *authMethod // mysql_native_password, which the proxy's logins check passwords with
}

func newAuthServer(inner mysql.AuthServer, proxySecret string) *authServer {
	s := &authServer{AuthServer: inner}
	s.mdb, _ = inner.(*mysql_db.MySQLDb)
	def := inner.DefaultAuthMethodDescription()
	for _, m := range inner.AuthMethods() {
		am := &authMethod{AuthMethod: m, s: s, fallback: m.Name() == def}
		if m.Name() == mysql.MysqlNativePassword {
			s.native = am
		}
		s.methods = append(s.methods, am)
	}
	if proxySecret != "" && s.native != nil && s.mdb != nil {
		s.methods = append(s.methods, &proxyAuthMethod{s: s, secret: proxySecret})
	}
	return s
}

// AuthMethods implements mysql.AuthServer.
func (s *authServer) AuthMethods() []mysql.AuthMethod { return s.methods }

// handled reports whether one of GMS's auth methods takes the user.
func (s *authServer) handled(c *mysql.Conn, user string) bool {
	for _, m := range s.methods {
		if m.(*authMethod).AuthMethod.HandleUser(c, user) {
			return true
		}
	}
	return false
}

// authMethod is one of GMS's auth methods, with the same failure for every user.
type authMethod struct {
	mysql.AuthMethod
	s        *authServer
	fallback bool // the default method: it takes the users no method takes
}

// HandleUser implements mysql.AuthMethod.
func (m *authMethod) HandleUser(c *mysql.Conn, user string) bool {
	if m.AuthMethod.HandleUser(c, user) {
		return true
	}
	return m.fallback && !m.s.handled(c, user)
}

// HandleAuthPluginData implements mysql.AuthMethod: every failure is the same 1045.
func (m *authMethod) HandleAuthPluginData(c *mysql.Conn, user string, serverData, clientData []byte, remote net.Addr) (mysql.Getter, error) {
	ud, err := m.AuthMethod.HandleAuthPluginData(c, user, serverData, clientData, remote)
	if err != nil {
		return nil, accessDenied(user, remote, len(clientData) > 0 && !(len(clientData) == 1 && clientData[0] == 0))
	}
	return m.s.admit(c, ud)
}

// admit lets an authenticated login in unless the connections are beyond max_connections
// and the user may not take the reserved one.
func (s *authServer) admit(c *mysql.Conn, ud mysql.Getter) (mysql.Getter, error) {
	if g := guardOf(c); g != nil {
		if g.l.open.Load() > globalInt("max_connections", 151) && !s.connectionAdmin(ud) {
			return nil, mysql.NewSQLError(erConCount, "08004", "Too many connections")
		}
		g.authenticated(c)
	}
	return ud, nil
}

// connectionAdmin reports whether the authenticated user may take the reserved connection.
func (s *authServer) connectionAdmin(ud mysql.Getter) bool {
	cu, ok := ud.(sql.MysqlConnectionUser)
	if !ok || s.mdb == nil {
		return false
	}
	rd := s.mdb.Reader()
	defer rd.Close()
	u := s.mdb.GetUser(rd, cu.User, cu.Host, false)
	return u != nil && (u.PrivilegeSet.Has(sql.PrivilegeType_Super) || u.PrivilegeSet.HasDynamic("CONNECTION_ADMIN"))
}

// accessDenied is MySQL's error for a failed login.
func accessDenied(user string, remote net.Addr, withPassword bool) error {
	host := remote.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if remote.Network() == "unix" {
		host = "localhost"
	}
	using := "NO"
	if withPassword {
		using = "YES"
	}
	return mysql.NewSQLError(mysql.ERAccessDeniedError, mysql.SSAccessDeniedError,
		"Access denied for user '%s'@'%s' (using password: %s)", user, host, using)
}
