package sqlstore

import (
	"fmt"
	"strings"
	"testing"
)

// TestSslStatus: on a TLS connection Ssl_cipher and Ssl_version name the cipher and the
// protocol (GMS left them empty); on a plain one they stay empty.
func TestSslStatus(t *testing.T) {
	tlsCfg, err := LoadOrCreateTLS(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	s := startGuarded(t, ServeOptions{TLS: tlsCfg})
	secure := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s&tls=skip-verify", s.addr))
	got := queryRows(t, secure, "SHOW STATUS WHERE Variable_name IN ('Ssl_cipher', 'Ssl_version')")
	if !strings.Contains(got, "Ssl_cipher,TLS_AES_") && !strings.Contains(got, "Ssl_cipher,ECDHE-") || !strings.Contains(got, "Ssl_version,TLSv1.") {
		t.Errorf("over TLS: %s", got)
	}
	plain := openDB(t, fmt.Sprintf("root@tcp(%s)/?timeout=5s", s.addr))
	if got := queryRows(t, plain, "SHOW STATUS LIKE 'Ssl_cipher'"); got != "Ssl_cipher," {
		t.Errorf("without TLS: %q", got)
	}
}
