package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/meta"
)

// Cluster layout of `strata up`: one control plane, three Log Stores, three Page Stores and
// the read-write compute node, each a process of this binary, with its state under the data
// directory.
const (
	clusterLogStores  = 3
	clusterPageStores = 3
)

// runCluster starts the whole local cluster and supervises it until ctx ends.
// A positive stall is passed to the compute node as its --stall-timeout.
func runCluster(ctx context.Context, cmd *cobra.Command, dir, host string, port, poolMB int, stall time.Duration, sec securityFlags) error {
	lg := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	dir = abs
	secretFile, err := ensureSecret(filepath.Join(dir, "secret"))
	if err != nil {
		return err
	}
	ci, err := readClusterInfo(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if ci.Ports == nil {
		ci.Ports = map[string]int{}
	}
	// Each node keeps the port it got on the first start, so that a restarted node (or a
	// restarted cluster) is found at the same address.
	portOf := func(name string) (int, error) {
		if p, ok := ci.Ports[name]; ok {
			return p, nil
		}
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		ci.Ports[name] = p
		return p, nil
	}
	listen := func(name string) (string, error) {
		p, err := portOf(name)
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), err
	}
	sup, err := newSupervisor(filepath.Join(dir, "logs"), lg)
	if err != nil {
		return err
	}
	// A file DATA/hold/<node> keeps that node down (see supervisor).
	sup.holdDir = filepath.Join(dir, "hold")
	if err := os.MkdirAll(sup.holdDir, 0o755); err != nil {
		return err
	}
	started := false
	defer func() {
		if !started {
			_ = sup.stop(10 * time.Second)
		}
	}()

	metaAddr, err := listen("meta")
	if err != nil {
		return err
	}
	m := &child{name: "meta", ready: "strata: meta serving on ",
		args: []string{"meta", "--data", filepath.Join(dir, "meta"), "--listen", metaAddr}}
	if err := sup.start(ctx, m); err != nil {
		return err
	}
	ci.Etcd = []string{m.address()}
	if err := writeClusterInfo(dir, ci); err != nil {
		return err
	}
	etcd := strings.Join(ci.Etcd, ",")
	mc, err := meta.Dial(ctx, meta.ClientOptions{Endpoints: ci.Etcd, Logger: lg})
	if err != nil {
		return err
	}
	defer mc.Close()

	var logAddrs []string
	for i := 1; i <= clusterLogStores; i++ {
		name := fmt.Sprintf("logstore-%d", i)
		addr, err := listen(name)
		if err != nil {
			return err
		}
		logAddrs = append(logAddrs, addr)
		if err := mc.PutMember(ctx, meta.Member{Role: meta.RoleLogStore, ID: name, Addr: addr}); err != nil {
			return err
		}
	}
	var pageAddrs []string
	for i := 1; i <= clusterPageStores; i++ {
		name := fmt.Sprintf("pagestore-%d", i)
		addr, err := listen(name)
		if err != nil {
			return err
		}
		pageAddrs = append(pageAddrs, addr)
		if err := mc.PutMember(ctx, meta.Member{Role: meta.RolePageStore, ID: name, Addr: addr}); err != nil {
			return err
		}
	}
	if err := writeClusterInfo(dir, ci); err != nil {
		return err
	}
	for i, addr := range logAddrs {
		name := fmt.Sprintf("logstore-%d", i+1)
		var peers []string // the other stores: a damaged range is copied back from one of them
		for j, a := range logAddrs {
			if j != i {
				peers = append(peers, a)
			}
		}
		c := &child{name: name, ready: "strata: log store serving on ",
			args: []string{"logstore", "--data", filepath.Join(dir, name), "--listen", addr,
				"--secret-file", secretFile, "--etcd", etcd, "--id", name, "--peers", strings.Join(peers, ",")}}
		if err := sup.start(ctx, c); err != nil {
			return err
		}
	}
	for i, addr := range pageAddrs {
		name := fmt.Sprintf("pagestore-%d", i+1)
		c := &child{name: name, ready: "strata: page store serving on ",
			args: []string{"pagestore", "--data", filepath.Join(dir, name), "--listen", addr,
				"--secret-file", secretFile, "--log", strings.Join(logAddrs, ","), "--etcd", etcd, "--id", name}}
		if err := sup.start(ctx, c); err != nil {
			return err
		}
	}
	computeArgs := []string{"compute", "--data", filepath.Join(dir, "compute"), "--host", host,
		"--port", strconv.Itoa(port), "--etcd", etcd, "--secret-file", secretFile, "--id", "rw",
		"--buffer-pool-mb", strconv.Itoa(poolMB)}
	if stall > 0 {
		computeArgs = append(computeArgs, "--stall-timeout", stall.String())
	}
	if sec.tlsCert != "" {
		computeArgs = append(computeArgs, "--tls-cert", sec.tlsCert, "--tls-key", sec.tlsKey)
	}
	if sec.requireTLS {
		computeArgs = append(computeArgs, "--require-secure-transport")
	}
	if sec.rootPassword != "" {
		// Passed through the environment, not the command line other users can read.
		os.Setenv("STRATA_ROOT_PASSWORD", sec.rootPassword)
	}
	rw := &child{name: "compute", ready: "strata: serving MySQL on ", args: computeArgs}
	if err := sup.start(ctx, rw); err != nil {
		return err
	}
	// A restarted compute node comes back on the same MySQL port.
	if _, p, err := net.SplitHostPort(rw.address()); err == nil {
		rw.mu.Lock()
		for i, a := range rw.args {
			if a == "--port" && i+1 < len(rw.args) {
				rw.args[i+1] = p
			}
		}
		rw.mu.Unlock()
	}
	if err := mc.PutMember(ctx, meta.Member{Role: meta.RoleRW, ID: "rw", Addr: rw.address()}); err != nil {
		return err
	}
	started = true
	fmt.Fprintf(cmd.OutOrStdout(), "strata: serving MySQL on %s (cluster in %s: 1 meta, %d log stores, %d page stores, 1 compute)\n",
		rw.address(), dir, clusterLogStores, clusterPageStores)
	<-ctx.Done()
	lg.Info("strata: stopping the cluster")
	return sup.stop(15 * time.Second)
}

// ensureSecret creates the cluster secret file (random, readable by the owner only) if it
// does not exist, and returns its path.
func ensureSecret(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the cluster secret: %w", err)
	}
	return path, nil
}

func writeClusterInfo(dir string, ci clusterInfo) error {
	b, err := json.MarshalIndent(ci, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, clusterFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, clusterFile))
}

// freePort asks the system for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
