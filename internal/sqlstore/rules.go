package sqlstore

import (
	"sync"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
)

// Strata's analyzer rules: their ids, and where they are put among GMS's.

// Rule ids, one per rule (GMS's own are non-negative).
const (
	ruleLongINLists analyzer.RuleId = -(iota + 15)
	ruleNumericAggs
	ruleDatabaseCollation
	ruleDo
	ruleHelpTables
	ruleTimeCast
	ruleRowComparisons
	ruleIndexOrder
	ruleExplainNotMax1Row
	ruleCorrelatedLookups
	ruleIntArith
	ruleDecorrelateAggs
	ruleBinaryChanges
	ruleStrataStatus
	ruleIntCompare
	ruleSortNode
	ruleMixedIN
	ruleTimestampDiff
	ruleRowIN
	ruleTemporalText
	ruleIntCast
	ruleDateInterval
	ruleDateNumber
	ruleCaseType
	ruleDecimalCast
	ruleNumericText
	ruleHashKeys
	rulePrefetchJoin
	ruleOperations
)

// rulesMu guards the process-wide rule lists of GMS's analyzer package.
var rulesMu sync.Mutex

// hasRule reports whether rules holds a rule with id.
func hasRule(rules []analyzer.Rule, id analyzer.RuleId) bool {
	for _, r := range rules {
		if r.Id == id {
			return true
		}
	}
	return false
}

// installFirst puts rule first in the engine's batch named desc ("once-before", …), and
// only there: GMS copies analyzer.AlwaysBeforeDefault to the end of the once-before batch of
// every engine built after installAlwaysBefore added rule to it.
func installFirst(eng *sqle.Engine, desc string, rule analyzer.Rule) {
	for _, b := range eng.Analyzer.Batches {
		if b.Desc != desc {
			continue
		}
		rules := []analyzer.Rule{rule}
		for _, r := range b.Rules {
			if r.Id != rule.Id {
				rules = append(rules, r)
			}
		}
		b.Rules = rules
		return
	}
}

// installBefore puts rule just before GMS's rule named name, in the batch that holds it, and
// only there (see installFirst).
func installBefore(eng *sqle.Engine, name string, rule analyzer.Rule) {
	for _, b := range eng.Analyzer.Batches {
		var rules []analyzer.Rule
		for _, r := range b.Rules {
			if r.Id.String() == name {
				rules = append(rules, rule)
			}
			if r.Id != rule.Id {
				rules = append(rules, r)
			}
		}
		b.Rules = rules
	}
}

// installAlwaysBefore adds rule, once per process, to analyzer.AlwaysBeforeDefault: the
// rules GMS runs for a simple INSERT, UPDATE or DELETE (analyzer/node_batches.go), read
// when such a statement is analysed. first puts it at the front.
func installAlwaysBefore(rule analyzer.Rule, first bool) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	if hasRule(analyzer.AlwaysBeforeDefault, rule.Id) {
		return
	}
	if first {
		analyzer.AlwaysBeforeDefault = append([]analyzer.Rule{rule}, analyzer.AlwaysBeforeDefault...)
	} else {
		analyzer.AlwaysBeforeDefault = append(analyzer.AlwaysBeforeDefault[:len(analyzer.AlwaysBeforeDefault):len(analyzer.AlwaysBeforeDefault)], rule)
	}
}

// installBeforeIndexPlanning adds rule just before GMS's join and index planning
// (optimizeJoins), and to the rules GMS runs for single-table UPDATE and DELETE (see
// installAlwaysBefore; first puts it at their front). Rules installed this way run in the
// order they were installed.
func installBeforeIndexPlanning(eng *sqle.Engine, rule analyzer.Rule, first bool) {
	installAlwaysBefore(rule, first)
	installBefore(eng, "optimizeJoins", rule)
}

// installAfterAll adds rule to the rules GMS runs last: the engine's "after-all" batch and,
// once per process, analyzer.OnceAfterAll, which GMS reads when it analyses a simple INSERT,
// UPDATE or DELETE.
func installAfterAll(eng *sqle.Engine, rule analyzer.Rule) {
	rulesMu.Lock()
	defer rulesMu.Unlock()
	if !hasRule(analyzer.OnceAfterAll, rule.Id) {
		analyzer.OnceAfterAll = append(analyzer.OnceAfterAll[:len(analyzer.OnceAfterAll):len(analyzer.OnceAfterAll)], rule)
	}
	for _, b := range eng.Analyzer.Batches {
		if b.Desc == "after-all" && !hasRule(b.Rules, rule.Id) {
			b.Rules = append(b.Rules[:len(b.Rules):len(b.Rules)], rule)
		}
	}
}
