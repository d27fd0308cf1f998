package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// logLevelFlag is the root command's persistent --log-level: every node and tool takes it,
// and `strata up` passes it on to the nodes it starts.
const logLevelFlag = "log-level"

// parseLogLevel reads a --log-level value: debug, info, warn or error (any case).
func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--%s %q: want debug, info, warn or error", logLevelFlag, s)
}

// logLevel is the level the command line asked for (info when the flag is absent: commands
// built outside the root, as some tests do, have none).
func logLevel(cmd *cobra.Command) slog.Level {
	f := cmd.Flags().Lookup(logLevelFlag)
	if f == nil {
		return slog.LevelInfo
	}
	l, err := parseLogLevel(f.Value.String())
	if err != nil { // the root's PersistentPreRunE has refused it already
		return slog.LevelInfo
	}
	return l
}

// nodeLogger is the text logger a node writes to w at the command line's --log-level.
func nodeLogger(cmd *cobra.Command, w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: logLevel(cmd)}))
}
