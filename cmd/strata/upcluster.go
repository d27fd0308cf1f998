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
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"strata/internal/meta"
	"strata/internal/node"
	"strata/internal/placement"
	"strata/internal/privfs"
	"strata/internal/rpcauth"
	"strata/internal/supervisor"
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
func runCluster(ctx context.Context, cmd *cobra.Command, dir, host string, port, poolMB, diskCacheMB int, stall time.Duration, segPages uint64, consoleAddr string, sec securityFlags, roCount int, withProxy bool) error {
	lg := nodeLogger(cmd, cmd.ErrOrStderr())
	// Owner only, and tightened if an older build made it 0755: it holds the secret, the
	// nodes' data and their logs.
	if err := privfs.MkdirAll(dir); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	dir = abs
	if err := checkRebuilt(dir); err != nil {
		return err
	}
	secretFile, err := ensureSecret(filepath.Join(dir, "secret"))
	if err != nil {
		return err
	}
	con, err := startConsole(ctx, consoleAddr, secretFile, lg)
	if err != nil {
		return err
	}
	defer con.close()
	ci, err := readClusterInfo(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// A new cluster gets --ro read-only nodes; a running one keeps those recorded (added and
	// removed with 'strata ctl add-ro' and 'remove-ro'), unless --ro is given again.
	ensureRO := errors.Is(err, fs.ErrNotExist) || cmd.Flags().Changed("ro")
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
	// Each node serves its metrics on a free port of --metrics-addr's host (published in
	// the control plane), or none.
	nodeMetricsAddr := ""
	if a := cmd.Flags().Lookup("metrics-addr").Value.String(); a != "" {
		h, _, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("--metrics-addr %q: %w", a, err)
		}
		nodeMetricsAddr = net.JoinHostPort(h, "0")
	}
	// A file DATA/hold/<node> keeps that node down (see internal/supervisor).
	sup, err := supervisor.New(supervisor.Options{LogDir: filepath.Join(dir, "logs"), HoldDir: filepath.Join(dir, "hold"),
		Extra: []string{"--" + logLevelFlag, logLevel(cmd).String(), "--metrics-addr", nodeMetricsAddr}, Logger: lg})
	if err != nil {
		return err
	}
	started := false
	defer func() {
		if !started {
			_ = sup.Stop(10 * time.Second)
		}
	}()

	metaAddr, err := listen("meta")
	if err != nil {
		return err
	}
	m := &supervisor.Child{Name: "meta", Ready: "strata: meta serving on ", Env: storageEnv(),
		Args: []string{"meta", "--data", filepath.Join(dir, "meta"), "--listen", metaAddr, "--secret-file", secretFile}}
	if err := sup.Start(ctx, m); err != nil {
		return err
	}
	ci.Etcd = []string{m.Addr()}
	if err := writeClusterInfo(dir, ci); err != nil {
		return err
	}
	etcd := strings.Join(ci.Etcd, ",")
	secret, err := rpcauth.ReadSecretFile(secretFile)
	if err != nil {
		return err
	}
	mc, err := node.DialMeta(ctx, ci.Etcd, secret, lg, 0)
	if err != nil {
		return err
	}
	defer mc.Close()
	con.attach(mc)
	defer con.close() // before mc closes
	if err := recordHistory(ctx, cmd, mc); err != nil {
		return err
	}
	if err := recordArchive(ctx, cmd, mc, dir); err != nil {
		return err
	}

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
	// The three first Page Stores, and any added since (`strata ctl add-pagestore`).
	pageStores := []string{}
	for i := 1; i <= clusterPageStores; i++ {
		pageStores = append(pageStores, fmt.Sprintf("pagestore-%d", i))
	}
	if err := ensurePlacement(ctx, mc, segPages, slices.Clone(pageStores), lg); err != nil {
		return err
	}
	added, err := addedPageStores(ctx, mc, pageStores)
	if err != nil {
		return err
	}
	pageStores = append(pageStores, added...)
	pageAddrs := map[string]string{}
	for _, name := range pageStores {
		addr, err := listen(name)
		if err != nil {
			return err
		}
		pageAddrs[name] = addr
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
		c := &supervisor.Child{Name: name, Ready: "strata: log store serving on ", Env: storageEnv(),
			Args: []string{"logstore", "--data", filepath.Join(dir, name), "--listen", addr,
				"--secret-file", secretFile, "--etcd", etcd, "--id", name, "--peers", strings.Join(peers, ",")}}
		if err := sup.Start(ctx, c); err != nil {
			return err
		}
	}
	// A rebuild from the archive starts the log before the Page Stores start (uparchive.go).
	var rb *rebuild
	if from, _ := cmd.Flags().GetString(rebuildFlag); from != "" {
		to, _ := cmd.Flags().GetString(archiveFlag)
		if a, b := mustAbs(from), mustAbs(to); a == b {
			return fmt.Errorf("--%s and --%s name the same archive: archive the rebuilt database to a new one", rebuildFlag, archiveFlag)
		}
		if rb, err = startRebuild(ctx, dir, mc, secret, logAddrs, from, lg); err != nil {
			return err
		}
		defer rb.close()
	}
	startPageStore := func(name string) error {
		args := []string{"pagestore", "--data", filepath.Join(dir, name), "--listen", pageAddrs[name],
			"--secret-file", secretFile, "--log", strings.Join(logAddrs, ","), "--etcd", etcd, "--id", name}
		if rb != nil {
			args = append(args, "--rebuild-from", rb.spec)
		}
		return sup.Start(ctx, &supervisor.Child{Name: name, Ready: "strata: page store serving on ", Env: storageEnv(), Args: args})
	}
	for _, name := range pageStores {
		if err := startPageStore(name); err != nil {
			return err
		}
	}
	if rb != nil {
		if err := rb.run(ctx, cmd.ErrOrStderr()); err != nil {
			return err
		}
	}
	computeArgs := func(name, role string, port int) []string {
		args := []string{"compute", "--role", role, "--data", filepath.Join(dir, name), "--host", host,
			"--port", strconv.Itoa(port), "--etcd", etcd, "--secret-file", secretFile, "--id", name,
			"--buffer-pool-mb", strconv.Itoa(poolMB), "--disk-cache-mb", strconv.Itoa(diskCacheMB)}
		if stall > 0 {
			args = append(args, "--stall-timeout", stall.String()) // a read-only node may become the writer
		}
		if role == "ro" && !withProxy {
			// Without the proxy clients reach the writer on its own port: the writer stays
			// there, restarted by the supervisor, rather than move to a read-only node.
			args = append(args, "--no-failover")
		}
		if sec.tlsCert != "" {
			args = append(args, "--tls-cert", sec.tlsCert, "--tls-key", sec.tlsKey)
		}
		if sec.secureFilePriv != "" {
			args = append(args, "--secure-file-priv", sec.secureFilePriv)
		}
		if sec.requireTLS {
			args = append(args, "--require-secure-transport")
		}
		return args
	}
	if sec.rootPassword != "" {
		// Passed through the environment, not the command line other users can read.
		os.Setenv("STRATA_ROOT_PASSWORD", sec.rootPassword)
	}
	// With the proxy on --port, the read-write node serves on a port of its own, kept across
	// restarts; without it, on --port.
	rwPort := port
	if withProxy {
		if rwPort, err = portOf("compute"); err != nil {
			return err
		}
		if err := writeClusterInfo(dir, ci); err != nil {
			return err
		}
	}
	rwArgs := computeArgs("compute", "rw", rwPort)
	rwArgs[slices.Index(rwArgs, "--id")+1] = "rw"
	rw := &supervisor.Child{Name: "compute", Ready: "strata: serving MySQL on ", Args: rwArgs}
	if err := sup.Start(ctx, rw); err != nil {
		return err
	}
	// A restarted compute node comes back on the same MySQL port.
	if _, p, err := net.SplitHostPort(rw.Addr()); err == nil {
		rw.SetFlag("--port", p)
	}
	if err := mc.PutMember(ctx, meta.Member{Role: meta.RoleRW, ID: "rw", Addr: rw.Addr()}); err != nil {
		return err
	}
	if ensureRO {
		for i := 1; i <= roCount; i++ {
			if err := ensureMember(ctx, mc, meta.RoleRO, fmt.Sprintf("ro-%d", i)); err != nil {
				return err
			}
		}
	}
	ros := &roNodes{sup: sup, mc: mc, lg: lg, args: computeArgs, portOf: func(name string) (int, error) {
		p, err := portOf(name)
		if err == nil {
			err = writeClusterInfo(dir, ci)
		}
		return p, err
	}}
	roAddrs, err := ros.sync(ctx)
	if err != nil {
		return err
	}
	branches := &branchNodes{sup: sup, mc: mc, lg: lg, args: computeArgs, portOf: ros.portOf}
	if err := branches.sync(ctx); err != nil {
		lg.Error("strata: branches", "err", err)
	}
	serving, front := rw.Addr(), ""
	if withProxy {
		px := &supervisor.Child{Name: "proxy", Ready: "strata: proxy serving MySQL on ",
			Args: []string{"proxy", "--listen", net.JoinHostPort(host, strconv.Itoa(port)), "--etcd", etcd,
				"--secret-file", secretFile, "--id", "proxy"}}
		if err := sup.Start(ctx, px); err != nil {
			return err
		}
		// A restarted proxy comes back on the same port.
		if _, p, err := net.SplitHostPort(px.Addr()); err == nil {
			px.SetFlag("--listen", net.JoinHostPort(host, p))
		}
		if err := mc.PutMember(ctx, meta.Member{Role: meta.RoleProxy, ID: "proxy", Addr: px.Addr()}); err != nil {
			return err
		}
		serving, front = px.Addr(), fmt.Sprintf("; the proxy in front of rw %s", rw.Addr())
		if len(roAddrs) > 0 {
			front += " and " + strings.TrimPrefix(listAddrs(roAddrs), ": ")
		}
	}
	started = true
	fmt.Fprintf(cmd.OutOrStdout(), "strata: serving MySQL on %s (cluster in %s: 1 meta, %d log stores, %d page stores, 1 compute, %d read-only%s%s)\n",
		serving, dir, clusterLogStores, len(pageStores), len(roAddrs), listAddrs(roAddrs), front)
	con.announce(cmd.OutOrStdout())
	// Page Stores added while the cluster runs (`strata ctl add-pagestore` records a member)
	// are started here too.
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		// A new branch or read-only node waits for it: the control plane reports changes to
		// the members and branches (every 2 s besides); after a failed round it is tried
		// again in 250 ms.
		changes := mc.ClusterChanges(ctx, 2*time.Second)
		var again <-chan time.Time
		retrySoon := func() { again = time.After(250 * time.Millisecond) }
		for {
			select {
			case <-ctx.Done():
				return
			case <-changes:
			case <-again:
			}
			again = nil
			if _, err := ros.sync(ctx); err != nil && ctx.Err() == nil {
				lg.Error("strata: read-only nodes", "err", err)
				retrySoon()
			}
			if err := branches.sync(ctx); err != nil && ctx.Err() == nil {
				lg.Error("strata: branches", "err", err)
				retrySoon()
			}
			added, err := addedPageStores(ctx, mc, pageStores)
			if err != nil {
				retrySoon()
				continue
			}
			for _, name := range added {
				addr, err := listen(name)
				if err == nil {
					pageAddrs[name] = addr
					err = writeClusterInfo(dir, ci)
				}
				if err == nil {
					err = mc.PutMember(ctx, meta.Member{Role: meta.RolePageStore, ID: name, Addr: addr})
				}
				if err == nil {
					err = startPageStore(name)
				}
				if err != nil {
					if ctx.Err() == nil {
						lg.Error("strata: cannot start an added page store", "node", name, "err", err)
					}
					retrySoon()
					continue
				}
				pageStores = append(pageStores, name)
				lg.Info("strata: started an added page store", "node", name, "addr", addr)
			}
		}
	}()
	<-ctx.Done()
	<-watched
	lg.Info("strata: stopping the cluster")
	return sup.Stop(15 * time.Second)
}

// ensurePlacement records the segment placement of a new cluster: segments of segPages pages,
// every one on the given Page Stores. A cluster that has one keeps it.
func ensurePlacement(ctx context.Context, mc *meta.Client, segPages uint64, stores []string, lg *slog.Logger) error {
	p, err := mc.UpdatePlacement(ctx, func(p *placement.Placement, ok bool) error {
		if !ok {
			*p = placement.Initial(segPages, stores)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if p.SegmentPages != segPages {
		lg.Warn("strata: the cluster keeps its segment size", "segment_pages", p.SegmentPages, "asked", segPages)
	}
	return nil
}

// addedPageStores returns the Page Store members of the control plane not in known, sorted.
func addedPageStores(ctx context.Context, mc *meta.Client, known []string) ([]string, error) {
	nodes, err := mc.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nodes {
		if n.Role == meta.RolePageStore && !slices.Contains(known, n.ID) && !slices.Contains(out, n.ID) {
			out = append(out, n.ID)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ensureSecret creates the cluster secret file (random, readable by the owner only) if it
// does not exist, and returns its path.
func ensureSecret(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		// An older build, or a hand, may have left it readable by others.
		if err := os.Chmod(path, privfs.FileMode); err != nil {
			return "", fmt.Errorf("the cluster secret: %w", err)
		}
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
	if err := os.WriteFile(tmp, append(b, '\n'), privfs.FileMode); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, clusterFile))
}

// freePort returns a free loopback port for a node to keep across restarts. It is taken
// below the system's range of ephemeral ports when it can: a port from that range, free now,
// may be the local end of some outgoing connection when the node starts again, and the node
// could not listen on it.
func freePort() (int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				low = v
			}
		}
	}
	const floor = 10000
	for i := 0; low > floor+1000 && i < 100; i++ {
		p := floor + mrand.IntN(low-floor)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// storageEnv is the environment `strata up` adds for the control plane, the Log Stores and the
// Page Stores, which share the machine's cores with the compute nodes: GOMAXPROCS of a
// quarter of the cores (at least 1), unless the operator set GOMAXPROCS. With every process's
// Go runtime running a thread per core, idle ones spin looking for work on cores the others
// need: on 2 cores, storage nodes at GOMAXPROCS=1 took 17% less CPU per transaction
// (bench/README.md).
func storageEnv() []string {
	if os.Getenv("GOMAXPROCS") != "" {
		return nil
	}
	return []string{fmt.Sprintf("GOMAXPROCS=%d", max(1, runtime.NumCPU()/4))}
}
