package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/spf13/pflag"

	"strata/internal/console"
	"strata/internal/meta"
	"strata/internal/rpcauth"
)

// consolePasswordEnv holds a password the console accepts beyond loopback, besides the cluster
// secret (an environment variable, not a flag, to keep it off the command line).
const consolePasswordEnv = "STRATA_CONSOLE_PASSWORD"

func addConsoleFlag(fs *pflag.FlagSet, addr *string) {
	fs.StringVar(addr, "console-addr", "127.0.0.1:0",
		"address of the web console, printed at start (port 0: any free port; empty: none; cluster only); beyond loopback it requires the cluster secret, or $"+consolePasswordEnv+", as the basic authentication password")
}

// upConsole is the web console of `strata up`. It starts before the nodes, so that a bad
// --console-addr stops the start at once, and reads the control plane once told of it.
type upConsole struct {
	srv  *console.Server
	mc   atomic.Pointer[meta.Client]
	once sync.Once
}

// startConsole serves the console on addr ("": none, and nil) with the cluster secret read
// from secretFile.
func startConsole(ctx context.Context, addr, secretFile string, lg *slog.Logger) (*upConsole, error) {
	if addr == "" {
		return nil, nil
	}
	secret, err := rpcauth.ReadSecretFile(secretFile)
	if err != nil {
		return nil, err
	}
	c := &upConsole{}
	c.srv, err = console.Listen(ctx, console.Options{Addr: addr, Source: c, Secret: secret,
		Password: os.Getenv(consolePasswordEnv), Logger: lg})
	if err != nil {
		return nil, fmt.Errorf("--console-addr: %w", err)
	}
	return c, nil
}

// Snapshot reads the control plane once attach has given it.
func (c *upConsole) Snapshot(ctx context.Context) (console.Cluster, error) {
	mc := c.mc.Load()
	if mc == nil {
		return console.Cluster{}, errors.New("the control plane is starting")
	}
	return console.MetaSource{Client: mc}.Snapshot(ctx)
}

// attach gives the console the control plane.
func (c *upConsole) attach(mc *meta.Client) {
	if c != nil {
		c.mc.Store(mc)
	}
}

// announce prints the console's address.
func (c *upConsole) announce(w io.Writer) {
	if c != nil {
		fmt.Fprintf(w, "strata: console on %s\n", c.srv.URL())
	}
}

// close stops the console; it may be called more than once.
func (c *upConsole) close() {
	if c != nil {
		c.once.Do(func() {
			c.mc.Store(nil)
			_ = c.srv.Close()
		})
	}
}
