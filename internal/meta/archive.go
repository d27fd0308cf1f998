package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Archive is where the main database's writer copies the log (docs/history.md, "The
// archive"): an archive spec (internal/archive.Open: a local directory, or s3://…) and how
// long log may wait before it is uploaded. Credentials belong in the environment of the
// nodes, not in the spec, which the control plane's readers can see.
type Archive struct {
	Spec string `json:"spec"`
	// ChunkDelay is how long the oldest log byte not archived may wait before a chunk is cut
	// (0: internal/archive.DefaultChunkDelay).
	ChunkDelay time.Duration `json:"chunk_delay,omitempty"`
	// BaseBytes is how much log may be archived after the newest base (page images of every
	// page) before the writer takes another (0: DefaultBaseBytes).
	BaseBytes int64 `json:"base_bytes,omitempty"`
	// Keep is how far back the archive keeps what a branch or restore from it needs: the
	// newest base taken before then, and the log after it (0, or shorter than the history
	// window: the history window).
	Keep time.Duration `json:"keep,omitempty"`
}

// DefaultBaseBytes is how much log is archived between two bases by default.
const DefaultBaseBytes = 1 << 30

func (k keys) archive() string { return k.prefix + "archive" }

// Archive returns the archive settings (an empty Spec: no archive, by choice); ErrNotFound
// when none were recorded.
func (c *Client) Archive(ctx context.Context) (Archive, error) {
	var a Archive
	return a, c.getJSON(ctx, c.k.archive(), &a)
}

// SetArchive records the archive settings; an empty spec records that the cluster has no
// archive.
func (c *Client) SetArchive(ctx context.Context, a Archive) error {
	if a.ChunkDelay < 0 || a.BaseBytes < 0 || a.Keep < 0 {
		return errors.New("meta: a negative archive chunk delay, base interval or keep")
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := c.c.Put(ctx, c.k.archive(), string(b)); err != nil {
		return fmt.Errorf("meta: record the archive settings: %w", err)
	}
	return nil
}
