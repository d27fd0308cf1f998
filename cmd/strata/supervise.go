package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"strata/internal/privfs"
	"strata/internal/retry"
)

// child is one process the supervisor runs and keeps running.
type child struct {
	name  string   // e.g. "logstore-1"
	args  []string // the strata command line after the binary
	ready string   // prefix of the stdout line that says it serves; the address follows

	mu      sync.Mutex
	cmd     *exec.Cmd
	addr    string
	exited  chan struct{} // closed when the current process has been waited for
	started time.Time
}

// supervisor starts children, restarts those that die (with a backoff), and stops them all.
//
// A node can be kept down: while a file named after it exists in holdDir (DATA/hold/<name>,
// e.g. DATA/hold/logstore-2), the supervisor does not restart that node when it exits; it
// restarts it as soon as the file is removed. Create the file before stopping the node. Tests
// and operators use it to keep a node down on purpose.
type supervisor struct {
	exe     string
	logDir  string
	holdDir string // "" : no holds
	lg      *slog.Logger
	// extra is appended to every child's command line (the shared flags, such as
	// --log-level, that each node takes from its parent).
	extra []string

	mu       sync.Mutex
	children []*child
	stopping bool
	wg       sync.WaitGroup
}

func newSupervisor(logDir string, lg *slog.Logger) (*supervisor, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the strata binary: %w", err)
	}
	// Node logs name files, addresses and errors: owner only.
	if err := privfs.MkdirAll(logDir); err != nil {
		return nil, err
	}
	return &supervisor{exe: exe, logDir: logDir, lg: lg}, nil
}

// errExitedEarly is a child process that exited before printing its ready line.
var errExitedEarly = errors.New("exited before it was ready")

// startAttempts bounds how many times start runs a child that exits before it is ready: a
// cause can be brief (its port, kept from an earlier start, held for a moment by another
// process's connection), but one that lasts is reported.
const startAttempts = 4

// start starts c and waits until it prints its ready line (or ctx ends), then keeps it
// running until stop.
func (s *supervisor) start(ctx context.Context, c *child) error {
	backoff := retry.NewBackoff(500*time.Millisecond, 4*time.Second)
	for attempt := 1; ; attempt++ {
		err := s.spawn(ctx, c)
		if err == nil {
			break
		}
		if !errors.Is(err, errExitedEarly) || attempt == startAttempts {
			return err
		}
		wait := backoff.Next()
		s.lg.Warn("node exited before it was ready; starting it again", "node", c.name, "attempt", attempt,
			"err", err, "after", wait)
		if !retry.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
	s.mu.Lock()
	s.children = append(s.children, c)
	s.mu.Unlock()
	s.wg.Add(1)
	go s.watch(c)
	return nil
}

// spawn runs one process of c and waits for its ready line.
func (s *supervisor) spawn(ctx context.Context, c *child) error {
	logf, err := os.OpenFile(filepath.Join(s.logDir, c.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, privfs.FileMode)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.exe, append(append([]string(nil), c.args...), s.extra...)...)
	cmd.Env = os.Environ()
	cmd.Stderr = logf
	cmd.SysProcAttr = childProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	exited := make(chan struct{})
	addrCh := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if !sent && strings.HasPrefix(line, c.ready) {
				f := strings.Fields(strings.TrimPrefix(line, c.ready))
				if len(f) > 0 {
					addrCh <- f[0]
					sent = true
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		<-scanned // Wait closes the pipe: read it to the end first
		err := cmd.Wait()
		if err != nil {
			fmt.Fprintf(logf, "strata up: process exited: %v\n", err)
		}
		logf.Close()
		close(exited)
	}()
	c.mu.Lock()
	c.cmd, c.exited, c.started = cmd, exited, time.Now()
	c.mu.Unlock()
	t := time.NewTimer(2 * time.Minute)
	defer t.Stop()
	select {
	case addr := <-addrCh:
		c.mu.Lock()
		c.addr = addr
		c.mu.Unlock()
		s.lg.Info("started", "node", c.name, "pid", cmd.Process.Pid, "addr", addr)
		return nil
	case <-exited:
		return fmt.Errorf("%s %w; see %s", c.name, errExitedEarly, filepath.Join(s.logDir, c.name+".log"))
	case <-t.C:
		_ = cmd.Process.Kill()
		return fmt.Errorf("%s not ready after 2m; see %s", c.name, filepath.Join(s.logDir, c.name+".log"))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return ctx.Err()
	}
}

// watch restarts c whenever it exits, until the supervisor stops.
func (s *supervisor) watch(c *child) {
	defer s.wg.Done()
	backoff := retry.NewBackoff(500*time.Millisecond, 10*time.Second)
	for {
		c.mu.Lock()
		exited, cmd, started := c.exited, c.cmd, c.started
		c.mu.Unlock()
		<-exited
		if s.isStopping() {
			return
		}
		if time.Since(started) > 30*time.Second {
			backoff.Reset()
		}
		if s.held(c) {
			s.lg.Warn("node exited; held down until its hold file is removed", "node", c.name,
				"pid", cmd.Process.Pid, "status", cmd.ProcessState.String(), "hold", s.holdPath(c))
			if !s.waitHold(c) {
				return
			}
			// The node was down on purpose: restart it at once.
			backoff.Reset()
		} else {
			wait := backoff.Next()
			s.lg.Warn("node exited; restarting it", "node", c.name, "pid", cmd.Process.Pid,
				"status", cmd.ProcessState.String(), "after", wait)
			time.Sleep(wait)
		}
		for !s.isStopping() {
			if s.held(c) && !s.waitHold(c) {
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			err := s.spawn(ctx, c)
			cancel()
			if err == nil {
				s.lg.Info("node restarted", "node", c.name)
				break
			}
			wait := backoff.Next()
			s.lg.Warn("restart failed", "node", c.name, "err", err, "retry in", wait)
			time.Sleep(wait)
		}
	}
}

// holdPath is the file that keeps c down while it exists.
func (s *supervisor) holdPath(c *child) string {
	if s.holdDir == "" {
		return ""
	}
	return filepath.Join(s.holdDir, c.name)
}

// held says whether c's hold file exists.
func (s *supervisor) held(c *child) bool {
	p := s.holdPath(c)
	if p == "" {
		return false
	}
	_, err := os.Stat(p)
	return err == nil
}

// waitHold waits until c's hold file is gone; it returns false if the supervisor stops first.
func (s *supervisor) waitHold(c *child) bool {
	for s.held(c) {
		if s.isStopping() {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.isStopping() {
		return false
	}
	s.lg.Info("hold removed; restarting the node", "node", c.name)
	return true
}

func (s *supervisor) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// stop stops the children in the reverse order of their start: SIGTERM, then SIGKILL for
// one that has not exited after grace.
func (s *supervisor) stop(grace time.Duration) error {
	s.mu.Lock()
	s.stopping = true
	children := s.children
	s.mu.Unlock()
	var errs []error
	for i := len(children) - 1; i >= 0; i-- {
		c := children[i]
		c.mu.Lock()
		cmd, exited := c.cmd, c.exited
		c.mu.Unlock()
		if cmd == nil {
			continue
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(grace):
			s.lg.Warn("node did not stop in time; killing it", "node", c.name)
			_ = cmd.Process.Kill()
			<-exited
			errs = append(errs, fmt.Errorf("%s killed after %s", c.name, grace))
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// addr returns the address c serves on.
func (c *child) address() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// pid returns the current process ID of c.
func (c *child) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}
