// Package embedded is the default olap.Store: ClickHouse running inside the
// moose process as chDB (libchdb.so 26.7.3), loaded at run time with purego,
// so moose builds with CGO_ENABLED=0 and needs no server.
//
// # Library
//
// Open loads the library from Options.LibPath, else $MOOSE_CHDB_LIB, else
// DefaultLibPath() (${MOOSE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/moose}/chdb/26.7.3-stable.1/libchdb.so),
// where scripts/install-chdb.sh puts it. A missing library is ErrLibMissing
// with the path tried and the fix.
//
// # Engine rules (notes/ENGINES.md pitfalls)
//
//  1. chDB's process-wide signal handlers are switched off before the first
//     connect, so Go keeps SIGSEGV (panics stay recoverable) and signal.Notify.
//  2. Query parameters live on a chDB connection, so every statement takes
//     its own connection from a pool (Options.PoolSize) and returns it after.
//  3. One data directory per process, booted once: the first Open holds an
//     anchor connection and an flock on <dir>/moose.lock until the process
//     exits. Another process on the same directory gets "data directory ...
//     is in use by another moose process" (olap.ErrUnavailable). More Stores
//     on the same directory share the engine.
//  4. Parameter values are escaped text (chsql.Modern.ParamText), and
//     integer values are range checked first (the engine wraps them).
//  5. Inserts stream JSONEachRow in chunks of at most 2 MiB, split on lines.
//
// # Data
//
// Tables live in the engine's current database, "default" (an Overlay
// database in chDB); SQL uses unqualified names. Each connection sets the
// settings in connSettings: 64-bit integers as JSON numbers, no forward-slash
// escaping, invalid UTF-8 replaced so JSON stays valid, session time zone UTC,
// ISO timestamps accepted on input, synchronous ALTER mutations, and one block
// per INSERT.
//
// # Atomicity and durability
//
// An Insert is one INSERT statement whose input forms a single block, and so
// a single part, written when the stream ends: a bad row anywhere (also in a
// late chunk) fails the batch and stores nothing. A cancelled context aborts
// between chunks without committing.
//
// By default the engine is booted with merge_tree fsync_after_insert and
// fsync_part_directory (a generated <dir>/moose-chdb.xml), so an Insert
// returns only after its part files and directory are fsynced: acknowledged
// rows survive a power loss. Options.NoFsync trades that for lower latency
// (survives a process crash only).
//
// # Context
//
// chDB calls are blocking C calls that cannot be interrupted: ctx is checked
// before a statement starts, while waiting for a connection and between
// insert chunks; a statement already inside the engine runs to its end.
package embedded
