package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestLogLevelFlag(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo,
		"Warn": slog.LevelWarn, "error": slog.LevelError, slog.LevelWarn.String(): slog.LevelWarn} {
		if got, err := parseLogLevel(in); err != nil || got != want {
			t.Errorf("parseLogLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// A bad level is refused before any command runs, whichever command it is given to.
	for _, args := range [][]string{{"--log-level", "loud", "log", "dump", "--data", t.TempDir()},
		{"logstore", "--log-level", "loud", "--data", t.TempDir()}} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), `--log-level "loud"`) {
			t.Errorf("strata %s: %v, want a --log-level error", strings.Join(args, " "), err)
		}
	}
	// The level is the one a node's logger writes at.
	root := newRoot()
	var buf bytes.Buffer
	root.SetArgs([]string{"--log-level", "warn", "log"})
	root.SetOut(&buf)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	cmd, _, err := root.Find([]string{"log"})
	if err != nil {
		t.Fatal(err)
	}
	lg := nodeLogger(cmd, &buf)
	lg.Info("hidden")
	lg.Warn("shown")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "shown") {
		t.Errorf("log at --log-level warn: %q", s)
	}
}
