package sqlstore

import (
	"bytes"
	"net"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"

	"strata/internal/proxyauth"
)

// proxyAuthMethod is the login of the Strata proxy for its clients (docs/proxy.md,
// "Authentication"; the token format is internal/proxyauth's). The auth data is a token
// signed with the cluster secret over this handshake's salt and the user, carrying the
// client's own address, and either the client's mysql_native_password scramble of the salt
// the proxy gave it (checked here, with the client's address, exactly as if the client had
// connected directly: same accounts, same 1045) or nothing (the proxy has already checked
// the client on its session: the account must still exist for that address and not be
// locked). Without the secret no token verifies, and a token is good for one handshake.
type proxyAuthMethod struct {
	s      *authServer
	secret string
}

// Name implements mysql.AuthMethod.
func (m *proxyAuthMethod) Name() mysql.AuthMethodDescription { return proxyauth.Plugin }

// HandleUser implements mysql.AuthMethod: every user, so that an unknown one fails as a
// wrong password does (1045), never as "no authentication method".
func (m *proxyAuthMethod) HandleUser(*mysql.Conn, string) bool { return true }

// AllowClearTextWithoutTLS implements mysql.AuthMethod: the token carries no password.
func (m *proxyAuthMethod) AllowClearTextWithoutTLS() bool { return true }

// AuthPluginData implements mysql.AuthMethod (an auth switch to this method: a fresh salt).
func (m *proxyAuthMethod) AuthPluginData() ([]byte, error) {
	salt, err := mysql.NewSalt()
	if err != nil {
		return nil, err
	}
	return append(salt, 0), nil
}

// HandleAuthPluginData implements mysql.AuthMethod.
func (m *proxyAuthMethod) HandleAuthPluginData(c *mysql.Conn, user string, serverData, clientData []byte, remote net.Addr) (mysql.Getter, error) {
	tok, err := proxyauth.Decode(m.secret, bytes.TrimSuffix(serverData, []byte{0}), user, clientData)
	if err != nil {
		if g := guardOf(c); g != nil {
			g.l.lg.Warn("sqlstore: refused a proxy login (is the proxy's cluster secret this node's?)",
				"user", user, "from", remote.String(), "err", err)
		}
		return nil, accessDenied(user, remote, true)
	}
	client, ok := clientAddr(tok.ClientAddr)
	if !ok {
		return nil, accessDenied(user, remote, true)
	}
	if tok.Mode == proxyauth.Password {
		return m.s.native.HandleAuthPluginData(c, user, append(bytes.Clone(tok.Salt), 0), tok.Scramble, client)
	}
	mdb := m.s.mdb
	if !mdb.Enabled() {
		return m.s.admit(c, sql.MysqlConnectionUser{User: user, Host: client.host})
	}
	rd := mdb.Reader()
	u := mdb.GetUser(rd, user, client.host, false)
	rd.Close()
	if u == nil || u.Locked {
		return nil, accessDenied(user, client, true)
	}
	return m.s.admit(c, sql.MysqlConnectionUser{User: u.User, Host: u.Host})
}

// proxiedAddr is a client's address as the proxy reported it.
type proxiedAddr struct{ addr, host string }

func (a proxiedAddr) Network() string { return "tcp" }
func (a proxiedAddr) String() string  { return a.addr }

// clientAddr reads the host:port the proxy reported; the host must be an IP address.
func clientAddr(s string) (proxiedAddr, bool) {
	host, _, err := net.SplitHostPort(s)
	if err != nil || net.ParseIP(host) == nil {
		return proxiedAddr{}, false
	}
	return proxiedAddr{addr: s, host: host}, true
}
