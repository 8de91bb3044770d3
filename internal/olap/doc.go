// Package olap is the storage contract between moose and an analytical
// engine: schema types, the typed schema changes that migrations are made of,
// the Writer, Reader and Migrator interfaces, and the sentinel errors that
// callers match with errors.Is.
//
// It imports no other internal package. Implementations live in
// olap/embedded (chDB, the default) and olap/clickhouse (a ClickHouse server);
// olap/olaptest holds the contract suite that both must pass. Consumers take
// the narrowest interface they need: ingest a Writer, api a Reader, admin a
// Migrator. Only the server holds a whole Store.
package olap
