// Package e2e holds end-to-end tests that run the real moose binary over
// real HTTP against the real embedded engine.
//
// TestMain builds ./cmd/moose once into a temporary directory. Each test
// writes a project directory (moose.config.toml on free ports, app/*.toml,
// .env) into t.TempDir() and starts `moose dev` or `moose prod` there as a
// subprocess: the embedded engine allows one data directory per process, so
// every server is its own process with its own project. Tests talk to it
// with net/http and assert on status codes, headers, bodies, the rows the
// analytics API reads back, and the server's captured log output.
//
// The library libchdb.so must be installed (scripts/install-chdb.sh, or
// MOOSE_CHDB_LIB). When it is missing the tests are skipped, except under
// CI=true, where that is a failure. -short skips the slow load tests (kill -9
// and graceful shutdown under load); CI runs them.
//
// The package has no non-test code and imports nothing from the product but
// the engine's library-path resolution.
package e2e
