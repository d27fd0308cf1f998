// Package gmstest runs go-mysql-server's enginetest suites against Strata's sqlstore backend.
// Its tests are in the _test files; this file holds the skip list.
package gmstest

// Skip is one query, write query or script name that a suite skips, and why.
type Skip struct {
	Query  string
	Reason string
}

// Skips lists, per suite (the name after TestStrata), what the harness skips: every entry
// failed against Strata when it was added, and the reason names the failure. Keys match
// case-insensitively the strings enginetest passes to SkipQueryTest: a query, a write query,
// a script name (which skips the whole script) or a script statement.
var Skips = map[string][]Skip{}

// SkipTest is a subtest that enginetest runs without consulting SkipQueryTest (hand-written
// t.Run blocks), skipped by its full name as go test prints it; a level of the name cannot
// contain a slash.
type SkipTest struct {
	Test   string
	Reason string
}

// SkipTests lists the subtests skipped by name.
var SkipTests = []SkipTest{}
