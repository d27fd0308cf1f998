package quorum

import (
	"fmt"

	"strata/internal/page"
)

// Term records that a writer with Epoch wrote the log from LSN Start on (until the next term's
// start). A History is a replica's list of terms, epochs strictly increasing and starts not
// decreasing; the epoch of a byte is the epoch of the last term starting at or before it.
//
// Bytes with the same epoch at the same LSN on two replicas were sent by the same writer, and a
// writer only sends bytes to a replica after checking that the replica's log agrees with its own
// below that point, so two such logs are identical up to there (Raft's log matching property).
type Term struct {
	Epoch uint64
	Start page.LSN
}

// Validate checks that h is a well-formed history: non-empty epochs strictly increasing, starts
// not decreasing.
func Validate(h []Term) error {
	for i, t := range h {
		if t.Epoch == 0 {
			return fmt.Errorf("quorum: term %d has epoch 0", i)
		}
		if i > 0 && (t.Epoch <= h[i-1].Epoch || t.Start < h[i-1].Start) {
			return fmt.Errorf("quorum: term %d (epoch %d at %d) does not follow epoch %d at %d",
				i, t.Epoch, t.Start, h[i-1].Epoch, h[i-1].Start)
		}
	}
	return nil
}

// EpochAt returns the epoch of the byte at lsn: the epoch of the last term starting at or
// before it, or 0 when no term does.
func EpochAt(h []Term, lsn page.LSN) uint64 {
	var e uint64
	for _, t := range h {
		if t.Start > lsn {
			break
		}
		e = t.Epoch
	}
	return e
}

// LastEpoch returns the epoch of the last byte of a log with history h that ends at end and
// starts at start (0 for an empty log).
func LastEpoch(h []Term, start, end page.LSN) uint64 {
	if end <= start {
		return 0
	}
	return EpochAt(h, end-1)
}

// Agree returns the LSN up to which two logs agree: the largest x ≤ min(endA, endB), x ≥ start,
// such that the byte before x has the same epoch in both (or x = start, the common beginning of
// every log). By the log matching property the logs are byte-identical below x.
func Agree(a []Term, endA page.LSN, b []Term, endB page.LSN, start page.LSN) page.LSN {
	x := min(endA, endB)
	for x > start {
		ea, eb := EpochAt(a, x-1), EpochAt(b, x-1)
		if ea == eb && ea != 0 {
			return x
		}
		// Step back to the start of whichever term is later at x-1; the epochs are constant
		// within a term, so no LSN in between can agree.
		next := max(termStart(a, x-1), termStart(b, x-1))
		if next >= x {
			next = x - 1
		}
		x = max(next, start)
	}
	return start
}

// termStart returns the start of the term holding lsn (0 when none does).
func termStart(h []Term, lsn page.LSN) page.LSN {
	var s page.LSN
	for _, t := range h {
		if t.Start > lsn {
			break
		}
		s = t.Start
	}
	return s
}

// Cut returns the history of a log cut at end, continued by a writer with epoch from end on:
// the terms starting before end, then {epoch, end}. It is the history a new writer adopts after
// recovery.
func Cut(h []Term, end page.LSN, epoch uint64) []Term {
	var out []Term
	for _, t := range h {
		if t.Start >= end {
			break
		}
		out = append(out, t)
	}
	return append(out, Term{Epoch: epoch, Start: end})
}

// From returns the part of h that describes a log from lsn on, for a replica whose log starts
// at lsn (the bytes before it are gone everywhere): the term holding lsn, moved to start at lsn,
// then the later terms. Epochs of bytes at or after lsn are unchanged; bytes before lsn have none.
// When lsn is at or before h's first term, h is returned as is.
func From(h []Term, lsn page.LSN) []Term {
	if len(h) == 0 || lsn <= h[0].Start {
		return append([]Term(nil), h...)
	}
	var out []Term
	for _, t := range h {
		if t.Start <= lsn {
			out = []Term{{Epoch: t.Epoch, Start: lsn}}
			continue
		}
		out = append(out, t)
	}
	return out
}

// Replica is what recovery learns from one replica.
type Replica struct {
	History     []Term
	Start       page.LSN // first LSN of the log (the beginning, not the first retained)
	End         page.LSN // end of its log
	CompleteEnd page.LSN // end of its last complete group
}

// Choose returns the index of the replica whose log recovery keeps: the one whose last byte has
// the highest epoch, the longest among those (Raft's "most up to date"). Every byte a writer
// could have acknowledged is on a quorum of replicas, so any quorum of answers contains it, and
// the chosen log contains it. It returns -1 for no replicas.
func Choose(rs []Replica) int {
	best := -1
	var bestEpoch uint64
	for i, r := range rs {
		e := LastEpoch(r.History, r.Start, r.End)
		if best < 0 || e > bestEpoch || (e == bestEpoch && r.End > rs[best].End) {
			best, bestEpoch = i, e
		}
	}
	return best
}
