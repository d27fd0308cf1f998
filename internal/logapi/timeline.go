package logapi

import "fmt"

// A Log Store holds several logs, timelines: timeline 0 is the main database's log, and each
// branch of it has a timeline N > 0 of its own, whose LSNs continue from the branch point.
// Every request names its timeline; a request without one is about timeline 0.

// MaxTimeline is the highest valid timeline number. Numbers are given out by the control
// plane; the bound keeps them small enough for directory names and for every consumer that
// stores them in a signed or 32-bit integer.
const MaxTimeline = 1<<32 - 1

// CheckTimeline returns an error for a timeline number that no log can have.
func CheckTimeline(n uint64) error {
	if n > MaxTimeline {
		return fmt.Errorf("logapi: timeline %d out of range (at most %d)", n, uint64(MaxTimeline))
	}
	return nil
}
