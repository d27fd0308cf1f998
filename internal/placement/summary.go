package placement

import (
	"fmt"
	"strconv"
)

// StoreSegments is what a placement gives one Page Store. `strata ctl status --json` prints
// it: its encoding is part of that output.
type StoreSegments struct {
	SegmentPages uint64 `json:"segment_pages"`
	Default      bool   `json:"default"`   // it holds every segment not listed
	Listed       int    `json:"listed"`    // listed segments it serves
	MovingIn     int    `json:"moving_in"` // segments being moved to it
	MovingOut    int    `json:"moving_out"`
}

func (s StoreSegments) String() string {
	out := strconv.Itoa(s.Listed)
	if s.Default {
		out = "default+" + out
	}
	if s.MovingIn > 0 {
		out += fmt.Sprintf(" (+%d moving in)", s.MovingIn)
	}
	if s.MovingOut > 0 {
		out += fmt.Sprintf(" (-%d moving out)", s.MovingOut)
	}
	return out
}

// Summarize counts, per Page Store, the segments p gives it; nil when p is not recorded (no
// segment size).
func Summarize(p Placement) map[string]StoreSegments {
	if p.SegmentPages == 0 {
		return nil
	}
	out := map[string]StoreSegments{}
	get := func(id string) StoreSegments {
		s := out[id]
		s.SegmentPages = p.SegmentPages
		return s
	}
	for _, id := range p.Default {
		s := get(id)
		s.Default = true
		out[id] = s
	}
	for _, r := range p.Segments {
		for _, id := range r {
			s := get(id)
			s.Listed++
			out[id] = s
		}
	}
	for _, m := range p.Moving {
		in, outS := get(m.To), get(m.From)
		in.MovingIn++
		out[m.To] = in
		outS.MovingOut++
		out[m.From] = outS
	}
	return out
}
