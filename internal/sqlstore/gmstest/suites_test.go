package gmstest

import (
	"testing"

	"github.com/dolthub/go-mysql-server/enginetest"
)

// One test per GMS enginetest suite, each on a harness that skips the suite's entries in
// skips.go.

func TestStrataQueries(t *testing.T) {
	enginetest.TestQueries(t, newHarness(t, "Queries"))
}

func TestStrataInsertInto(t *testing.T) {
	enginetest.TestInsertInto(t, newHarness(t, "InsertInto"))
}

func TestStrataUpdate(t *testing.T) {
	enginetest.TestUpdate(t, newHarness(t, "Update"))
}

func TestStrataDelete(t *testing.T) {
	enginetest.TestDelete(t, newHarness(t, "Delete"))
}

func TestStrataReplaceInto(t *testing.T) {
	enginetest.TestReplaceInto(t, newHarness(t, "ReplaceInto"))
}

func TestStrataScripts(t *testing.T) {
	enginetest.TestScripts(t, newHarness(t, "Scripts"))
}

func TestStrataTransactionScripts(t *testing.T) {
	enginetest.TestTransactionScripts(t, newHarness(t, "TransactionScripts"))
}

func TestStrataConcurrentTransactions(t *testing.T) {
	enginetest.TestConcurrentTransactions(t, newHarness(t, "ConcurrentTransactions"))
}

func TestStrataForeignKeys(t *testing.T) {
	enginetest.TestForeignKeys(t, newHarness(t, "ForeignKeys"))
}

func TestStrataTriggers(t *testing.T) {
	enginetest.TestTriggers(t, newHarness(t, "Triggers"))
}

func TestStrataStoredProcedures(t *testing.T) {
	enginetest.TestStoredProcedures(t, newHarness(t, "StoredProcedures"))
}

func TestStrataViews(t *testing.T) {
	enginetest.TestViews(t, newHarness(t, "Views"))
}

func TestStrataCreateTable(t *testing.T) {
	enginetest.TestCreateTable(t, newHarness(t, "CreateTable"))
}

func TestStrataAlterTable(t *testing.T) {
	enginetest.TestAlterTable(t, newHarness(t, "AlterTable"))
}

func TestStrataIndexes(t *testing.T) {
	enginetest.TestIndexes(t, newHarness(t, "Indexes"))
}
