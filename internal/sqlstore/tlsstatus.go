package sqlstore

import (
	"context"
	"crypto/tls"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
)

// Ssl_cipher and Ssl_version.
//
// A client checks that its connection is encrypted with SHOW STATUS LIKE 'Ssl_cipher' (the
// mysql client's \s prints it too); GMS leaves it empty. applyTLSStatus sets the session's
// Ssl_cipher and Ssl_version from the connection's TLS state, with OpenSSL's names as MySQL
// reports them.

// opensslCipherNames maps Go's names of TLS 1.2 suites to OpenSSL's (TLS 1.3 suites have
// the same names in both).
var opensslCipherNames = map[uint16]string{
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            "ECDHE-RSA-AES128-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            "ECDHE-RSA-AES256-SHA",
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256:               "AES128-GCM-SHA256",
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384:               "AES256-GCM-SHA384",
}

// tlsVersionNames are MySQL's Ssl_version values.
var tlsVersionNames = map[uint16]string{
	tls.VersionTLS10: "TLSv1",
	tls.VersionTLS11: "TLSv1.1",
	tls.VersionTLS12: "TLSv1.2",
	tls.VersionTLS13: "TLSv1.3",
}

// applyTLSStatus sets Ssl_cipher and Ssl_version on a session whose connection uses TLS.
func applyTLSStatus(sess sql.Session, c *mysql.Conn) error {
	if c == nil {
		return nil
	}
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	if !st.HandshakeComplete {
		return nil
	}
	cipher, ok := opensslCipherNames[st.CipherSuite]
	if !ok {
		cipher = tls.CipherSuiteName(st.CipherSuite)
	}
	ctx := sql.NewContext(context.Background(), sql.WithSession(sess))
	if err := sess.SetStatusVariable(ctx, "Ssl_cipher", cipher); err != nil {
		return err
	}
	return sess.SetStatusVariable(ctx, "Ssl_version", tlsVersionNames[st.Version])
}
