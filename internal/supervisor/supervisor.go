// Package supervisor runs nodes as child processes of the strata binary and keeps them
// running: it starts each one and waits for the line that says it serves, restarts one that
// dies (with a backoff), keeps one down while its hold file exists, logs a line for each of
// these decisions, and stops them all in order.
package supervisor

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

// Child is one process the supervisor runs and keeps running.
type Child struct {
	Name string // e.g. "logstore-1"
	// Args is the strata command line after the binary; once started, change it only with
	// SetFlag.
	Args  []string
	Ready string // prefix of the stdout line that says it serves; the address follows
	// Env is added to the supervisor's own environment (a later entry wins over an earlier
	// one of the same name).
	Env []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	addr    string
	exited  chan struct{} // closed when the current process has been waited for
	started time.Time
	removed bool // StopChild stopped it for good
}

// Supervisor starts children, restarts those that die (with a backoff), and stops them all.
//
// A node can be kept down: while a file named after it exists in holdDir (DATA/hold/<name>,
// e.g. DATA/hold/logstore-2), the supervisor does not restart that node when it exits; it
// restarts it as soon as the file is removed. Create the file before stopping the node. Tests
// and operators use it to keep a node down on purpose.
type Supervisor struct {
	exe     string
	logDir  string
	holdDir string // "" : no holds
	lg      *slog.Logger
	// extra is appended to every child's command line (the shared flags, such as
	// --log-level, that each node takes from its parent).
	extra []string

	mu       sync.Mutex
	children []*Child
	stopping bool
	wg       sync.WaitGroup
}

// Options configure a Supervisor.
type Options struct {
	// LogDir holds each child's log, <name>.log (created owner-only).
	LogDir string
	// HoldDir holds the hold files that keep a child down ("": no holds; created owner-only).
	HoldDir string
	// Extra is appended to every child's command line: the shared flags, such as
	// --log-level, that each node takes from its parent.
	Extra  []string
	Logger *slog.Logger
}

// New returns a supervisor of children that are processes of this very binary.
func New(opts Options) (*Supervisor, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the strata binary: %w", err)
	}
	// Node logs name files, addresses and errors: owner only.
	for _, d := range []string{opts.LogDir, opts.HoldDir} {
		if d == "" {
			continue
		}
		if err := privfs.MkdirAll(d); err != nil {
			return nil, err
		}
	}
	return &Supervisor{exe: exe, logDir: opts.LogDir, holdDir: opts.HoldDir, extra: opts.Extra, lg: opts.Logger}, nil
}

// HoldPath is the file that keeps c down while it exists ("" without holds).
func (s *Supervisor) HoldPath(c *Child) string {
	if s.holdDir == "" {
		return ""
	}
	return filepath.Join(s.holdDir, c.Name)
}

// ErrExitedEarly is returned for a child process that exited before printing its ready line.
var ErrExitedEarly = errors.New("exited before it was ready")

// startAttempts bounds how many times start runs a child that exits before it is ready: a
// cause can be brief (its port, kept from an earlier start, held for a moment by another
// process's connection), but one that lasts is reported.
const startAttempts = 4

// Start starts c and waits until it prints its ready line (or ctx ends), then keeps it
// running until stop.
func (s *Supervisor) Start(ctx context.Context, c *Child) error {
	backoff := retry.NewBackoff(500*time.Millisecond, 4*time.Second)
	for attempt := 1; ; attempt++ {
		err := s.spawn(ctx, c)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrExitedEarly) || attempt == startAttempts {
			return err
		}
		wait := backoff.Next()
		s.lg.Warn("node exited before it was ready; starting it again", "node", c.Name, "attempt", attempt,
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
func (s *Supervisor) spawn(ctx context.Context, c *Child) error {
	logf, err := os.OpenFile(filepath.Join(s.logDir, c.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, privfs.FileMode)
	if err != nil {
		return err
	}
	c.mu.Lock()
	args := append(append([]string(nil), c.Args...), s.extra...)
	c.mu.Unlock()
	cmd := exec.Command(s.exe, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stderr = logf
	cmd.SysProcAttr = childProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", c.Name, err)
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
			if !sent && strings.HasPrefix(line, c.Ready) {
				f := strings.Fields(strings.TrimPrefix(line, c.Ready))
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
		s.lg.Info("started", "node", c.Name, "pid", cmd.Process.Pid, "addr", addr)
		return nil
	case <-exited:
		return fmt.Errorf("%s %w; see %s", c.Name, ErrExitedEarly, filepath.Join(s.logDir, c.Name+".log"))
	case <-t.C:
		_ = cmd.Process.Kill()
		return fmt.Errorf("%s not ready after 2m; see %s", c.Name, filepath.Join(s.logDir, c.Name+".log"))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return ctx.Err()
	}
}

// watch restarts c whenever it exits, until the supervisor stops.
func (s *Supervisor) watch(c *Child) {
	defer s.wg.Done()
	backoff := retry.NewBackoff(500*time.Millisecond, 10*time.Second)
	for {
		c.mu.Lock()
		exited, cmd, started := c.exited, c.cmd, c.started
		c.mu.Unlock()
		<-exited
		if s.isStopping() || c.isRemoved() {
			return
		}
		if time.Since(started) > 30*time.Second {
			backoff.Reset()
		}
		if s.held(c) {
			s.lg.Warn("node exited; held down until its hold file is removed", "node", c.Name,
				"pid", cmd.Process.Pid, "status", cmd.ProcessState.String(), "hold", s.HoldPath(c))
			if !s.waitHold(c) {
				return
			}
			// The node was down on purpose: restart it at once.
			backoff.Reset()
		} else {
			wait := backoff.Next()
			s.lg.Warn("node exited; restarting it", "node", c.Name, "pid", cmd.Process.Pid,
				"status", cmd.ProcessState.String(), "after", wait)
			time.Sleep(wait)
		}
		for !s.isStopping() && !c.isRemoved() {
			if s.held(c) && !s.waitHold(c) {
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			err := s.spawn(ctx, c)
			cancel()
			if err == nil {
				s.lg.Info("node restarted", "node", c.Name)
				break
			}
			wait := backoff.Next()
			s.lg.Warn("restart failed", "node", c.Name, "err", err, "retry in", wait)
			time.Sleep(wait)
		}
	}
}

// held says whether c's hold file exists.
func (s *Supervisor) held(c *Child) bool {
	p := s.HoldPath(c)
	if p == "" {
		return false
	}
	_, err := os.Stat(p)
	return err == nil
}

// waitHold waits until c's hold file is gone; it returns false if the supervisor stops first.
func (s *Supervisor) waitHold(c *Child) bool {
	for s.held(c) {
		if s.isStopping() {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.isStopping() {
		return false
	}
	s.lg.Info("hold removed; restarting the node", "node", c.Name)
	return true
}

func (s *Supervisor) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// Stop stops the children in the reverse order of their start: SIGTERM, then SIGKILL for
// one that has not exited after grace.
func (s *Supervisor) Stop(grace time.Duration) error {
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
			s.lg.Warn("node did not stop in time; killing it", "node", c.Name)
			_ = cmd.Process.Kill()
			<-exited
			errs = append(errs, fmt.Errorf("%s killed after %s", c.Name, grace))
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// StopChild stops the child named name for good (SIGTERM, then SIGKILL after grace): it is not
// restarted. It reports false if no such child runs.
func (s *Supervisor) StopChild(name string, grace time.Duration) (bool, error) {
	s.mu.Lock()
	var c *Child
	for i, x := range s.children {
		if x.Name == name {
			c = x
			s.children = append(s.children[:i:i], s.children[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if c == nil {
		return false, nil
	}
	c.mu.Lock()
	c.removed = true
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	if cmd == nil {
		return true, nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return true, nil
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
		return true, fmt.Errorf("%s killed after %s", c.Name, grace)
	}
}

// Running reports whether a child named name is supervised.
func (s *Supervisor) Running(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.children {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (c *Child) isRemoved() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removed
}

// SetFlag changes the value of flag (e.g. "--port") in c's command line, for its next start.
func (c *Child) SetFlag(flag, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, a := range c.Args {
		if a == flag && i+1 < len(c.Args) {
			c.Args[i+1] = value
		}
	}
}

// Addr returns the address c serves on.
func (c *Child) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// PID returns the current process ID of c.
func (c *Child) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}
