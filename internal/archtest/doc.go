// Package archtest holds tests of the module's package structure, not of its behaviour: nodes
// meet through contract packages (internal/logapi, internal/pageapi) and a client never
// imports a server; placement is pure functions. It has no code of its own.
package archtest
