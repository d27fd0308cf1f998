package sqlstore

import (
	"net"

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
type authServer struct {
	mysql.AuthServer
	methods []mysql.AuthMethod
}

func newAuthServer(inner mysql.AuthServer) *authServer {
	s := &authServer{AuthServer: inner}
	def := inner.DefaultAuthMethodDescription()
	for _, m := range inner.AuthMethods() {
		s.methods = append(s.methods, &authMethod{AuthMethod: m, s: s, fallback: m.Name() == def})
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
	if g := guardOf(c); g != nil {
		g.authenticated(c)
	}
	return ud, nil
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
