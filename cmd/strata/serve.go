package main

import (
	"github.com/spf13/pflag"

	"strata/internal/node/computenode"
)

type securityFlags struct {
	rootPassword, tlsCert, tlsKey string
	requireTLS                    bool
	secureFilePriv                string
}

// addSecurityFlags registers the MySQL security flags that every SQL-serving command shares;
// where names the data directory in their help.
func addSecurityFlags(fs *pflag.FlagSet, sec *securityFlags, where string) {
	fs.StringVar(&sec.rootPassword, "root-password", "", "password for root (default $STRATA_ROOT_PASSWORD; required unless listening on loopback)")
	fs.StringVar(&sec.tlsCert, "tls-cert", "", "TLS certificate file (default: a self-signed one generated into "+where+")")
	fs.StringVar(&sec.tlsKey, "tls-key", "", "TLS key file")
	fs.BoolVar(&sec.requireTLS, "require-secure-transport", false, "refuse connections without TLS")
	fs.StringVar(&sec.secureFilePriv, "secure-file-priv", "", "the only directory LOAD_FILE, SELECT … INTO OUTFILE and LOAD DATA INFILE may use, for users with the FILE privilege; NULL disables them (default: files/ in "+where+")")
}

// security is the flags as a node's MySQL security options.
func (sec securityFlags) security() computenode.Security {
	return computenode.Security{RootPassword: sec.rootPassword, TLSCert: sec.tlsCert, TLSKey: sec.tlsKey,
		RequireTLS: sec.requireTLS, SecureFilePriv: sec.secureFilePriv}
}
