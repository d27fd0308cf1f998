package sqlstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
)

// SetRootPassword gives root@localhost (and root@'%' if it exists) the password pw.
func (s *Store) SetRootPassword(ctx context.Context, eng *sqle.Engine, pw string) error {
	sess := s.NewSession(sql.NewBaseSessionWithClientServer("strata", sql.Client{Address: "localhost", User: "root"}, 0))
	sctx := sql.NewContext(ctx, sql.WithSession(sess))
	quoted := strings.ReplaceAll(strings.ReplaceAll(pw, `\`, `\\`), `'`, `\'`)
	for _, host := range []string{"localhost", "%"} {
		if host == "%" {
			// Only if such an account exists.
			_, iter, _, err := eng.Query(sctx, "SELECT 1 FROM mysql.user WHERE user = 'root' AND host = '%'")
			if err != nil {
				return err
			}
			rows, err := sql.RowIterToRows(sctx, iter)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				continue
			}
		}
		q := fmt.Sprintf("ALTER USER 'root'@'%s' IDENTIFIED BY '%s'", host, quoted)
		_, iter, _, err := eng.Query(sctx, q)
		if err != nil {
			return fmt.Errorf("sqlstore: set root password: %w", err)
		}
		if _, err := sql.RowIterToRows(sctx, iter); err != nil {
			return fmt.Errorf("sqlstore: set root password: %w", err)
		}
	}
	return nil
}

// AddRemoteRoot creates root@'%' with password pw, for a server reachable beyond loopback.
func (s *Store) AddRemoteRoot(eng *sqle.Engine, pw string) {
	mdb := eng.Analyzer.Catalog.MySQLDb
	ed := mdb.Editor()
	defer ed.Close()
	mdb.AddSuperUser(ed, "root", "%", pw)
}

// IsLoopback reports whether a listen address only accepts local connections.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoadOrCreateTLS returns a TLS config from certFile and keyFile, or, when both are empty, from
// a self-signed certificate kept in dir (generated on first use).
func LoadOrCreateTLS(dir, certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		certFile, keyFile = filepath.Join(dir, "tls-cert.pem"), filepath.Join(dir, "tls-key.pem")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := writeSelfSigned(certFile, keyFile); err != nil {
				return nil, err
			}
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func writeSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "strata (self-signed)"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", kb, 0o600); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", der, 0o644)
}

func writePEM(path, typ string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: b}); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
