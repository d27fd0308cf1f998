package meta

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Authentication. etcd's own users: Strata's nodes connect as RootUser with a password derived
// from the cluster secret (PasswordFromSecret), so a client without the secret can neither
// read nor change the cluster's truth (epochs, placement). The embedded server enables this
// on first start when given a password; an external etcd is used as it is configured (a
// client sends the credentials, which an etcd without authentication ignores).

// RootUser is the etcd user Strata's nodes connect as.
const RootUser = "root"

// PasswordFromSecret derives the control plane's password from the cluster secret.
func PasswordFromSecret(secret string) string {
	sum := sha256.Sum256([]byte("strata control plane\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// ErrWrongPassword is returned when etcd refuses the password: its data was created with
// another cluster secret.
var ErrWrongPassword = errors.New("meta: etcd refuses the password derived from the cluster secret")

// enableAuth makes etcd at endpoints require RootUser with password, unless it already does.
func enableAuth(ctx context.Context, endpoints []string, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		Username: RootUser, Password: password, Context: ctx})
	if errors.Is(err, rpctypes.ErrAuthFailed) {
		return ErrWrongPassword
	}
	if err != nil {
		return fmt.Errorf("meta: connect to enable authentication: %w", err)
	}
	defer c.Close()
	st, err := c.AuthStatus(ctx)
	if err != nil {
		return fmt.Errorf("meta: authentication status: %w", err)
	}
	if st.Enabled {
		return nil // and the password works: the connection authenticated
	}
	if _, err := c.UserAdd(ctx, RootUser, password); errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		_, err = c.UserChangePassword(ctx, RootUser, password)
	}
	if err != nil {
		return fmt.Errorf("meta: create the %s user: %w", RootUser, err)
	}
	if _, err := c.UserGrantRole(ctx, RootUser, "root"); err != nil {
		return fmt.Errorf("meta: grant the root role: %w", err)
	}
	if _, err := c.AuthEnable(ctx); err != nil {
		return fmt.Errorf("meta: enable authentication: %w", err)
	}
	return nil
}
