package olap

import (
	"context"
	"encoding/json"
	"errors"
	"io"
)

// Sentinel errors. Implementations wrap them with context.
var (
	ErrTableNotFound = errors.New("table not found")
	ErrBadQuery      = errors.New("query rejected by the engine")
	ErrUnavailable   = errors.New("engine unavailable")
	ErrClosed        = errors.New("store closed")
)

// Writer appends rows to a table.
type Writer interface {
	// Insert stores rows, given as JSONEachRow (one JSON object per line, keys
	// are column names, values already in the column's canonical form: see
	// package ingest). It returns only once the rows are durably stored; a
	// batch is stored whole or not at all.
	Insert(ctx context.Context, table string, rows []byte) error
}

// Reader runs read-only SQL.
type Reader interface {
	// Query runs sql, binding each {name:Type} placeholder from params (by the
	// engine where it can, else as typed, escaped literals: never by pasting
	// raw input). Params must already be validated and converted.
	Query(ctx context.Context, sql string, params []Param) (*Result, error)
}

// Migrator reads the engine's real schema and applies typed changes.
type Migrator interface {
	// Tables lists the tables in the store's database, sorted by name.
	Tables(ctx context.Context) ([]Table, error)
	// DDL renders the statement that Apply would run for c.
	DDL(c Change) (string, error)
	// Apply runs the changes in order and stops at the first error.
	Apply(ctx context.Context, changes []Change) error
}

// DedupWriter is an optional Writer capability: idempotent inserts. A
// second InsertDedup of a batch under the same token (after a crash, say)
// stores nothing. Tokens must be unique per batch: a token reused for other
// rows drops them.
type DedupWriter interface {
	InsertDedup(ctx context.Context, table string, rows []byte, token string) error
}

// Store is a whole engine. Only package server holds one.
type Store interface {
	Writer
	Reader
	Migrator
	io.Closer
}

// Pinger is an optional capability: a cheap readiness check.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Param is one bound query parameter. Value is a Go value of the type that
// Type names: string, int64, uint64, float64, bool, time.Time, []any for
// Array(T), or nil for NULL. Decimal values are strings of digits.
type Param struct {
	Name  string
	Type  string // ClickHouse type text, e.g. "UInt32", "DateTime", "Array(String)"
	Value any
}

// ColumnMeta names one result column and its ClickHouse type.
type ColumnMeta struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Result is a query result in the engine's JSONCompact shape. 64-bit integers
// are JSON numbers (never quoted); DateTime values are the engine's text
// ("2006-01-02 15:04:05", UTC); the caller formats them for its clients.
type Result struct {
	Columns []ColumnMeta
	Rows    [][]json.RawMessage
}
