// Package olaptest is the contract suite that every olap.Store must pass:
// schema round trips through Tables, exact insert/query round trips
// (64-bit extremes, NULLs, dates), parameter binding of every type
// including injection attempts, schema changes, sentinel errors, atomic
// batches and Close.
//
// Use it from a store's tests:
//
//	func TestContract(t *testing.T) {
//		olaptest.Run(t, func(t *testing.T) olap.Store { return openStore(t) })
//	}
//
// It imports only olap and chsql (for the dialect's type mapping), and is
// used only by tests.
package olaptest
