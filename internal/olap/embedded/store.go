package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
)

// DefaultDataDir is where the data lives when Options.DataDir is empty.
const DefaultDataDir = ".moose/chdb"

// DefaultPoolSize is the number of pooled connections when Options.PoolSize
// is zero.
const DefaultPoolSize = 4

// Options configures Open.
type Options struct {
	// LibPath is libchdb.so. Default: $MOOSE_CHDB_LIB, else DefaultLibPath().
	LibPath string
	// DataDir holds the engine's data. Default DefaultDataDir (relative to
	// the working directory). One per process: see Open.
	DataDir string
	// Logger receives lifecycle logs. Default: slog.Default().
	Logger *slog.Logger
	// PoolSize is how many statements run at once, each on its own
	// connection. Default DefaultPoolSize.
	PoolSize int
	// NoFsync turns off fsync of each inserted part (on by default; see
	// Insert). It takes effect when the engine boots: the first Open of the
	// process.
	NoFsync bool
}

// Store is the embedded olap.Store over chDB. Tables live in the engine's
// current database ("default"); SQL and DDL use unqualified table names.
//
// Context: chDB calls are blocking C calls that cannot be interrupted. ctx
// is checked before a statement starts (and while waiting for a free
// connection), and between the chunks of an insert, which a cancellation
// aborts without committing; a statement already running in the engine runs
// to its end.
type Store struct {
	eng  *engine
	log  *slog.Logger
	pool chan *conn
	size int

	closeOnce sync.Once
	done      chan struct{}
}

var (
	_ olap.Store       = (*Store)(nil)
	_ olap.Pinger      = (*Store)(nil)
	_ olap.DedupWriter = (*Store)(nil)
)

// Open loads chDB (once per process), boots the engine on DataDir (once per
// process; a second process on the same directory gets an error) and opens
// PoolSize connections.
//
// chDB runs one data directory per process. Opening a second Store on the
// same directory shares the engine; opening one on another directory while
// a Store is open fails; after every Store is closed, Open on another
// directory shuts the engine down and boots it again (slow: avoid it outside
// tests and tools).
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = DefaultPoolSize
	}
	if opts.DataDir == "" {
		opts.DataDir = DefaultDataDir
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", opts.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	libPath := ResolveLibPath(opts.LibPath)
	start := time.Now()
	a, err := load(libPath)
	if err != nil {
		return nil, err
	}
	e, err := startEngine(a, dir, !opts.NoFsync)
	if err != nil {
		return nil, err
	}
	s := &Store{eng: e, log: opts.Logger, pool: make(chan *conn, opts.PoolSize), size: opts.PoolSize, done: make(chan struct{})}
	for range opts.PoolSize {
		p, err := connect(a, dir, connSettings)
		if err != nil {
			s.drain(len(s.pool))
			e.release()
			return nil, err
		}
		s.pool <- &conn{api: a, ptr: p}
	}
	s.log.Info("embedded engine ready", "engine", "chdb", "version", a.version(), "lib", libPath,
		"data_dir", dir, "pool", opts.PoolSize, "fsync", e.fsync, "elapsed", time.Since(start).Round(time.Millisecond))
	return s, nil
}

// Close waits for running statements, closes the Store's connections and
// makes every later call fail with olap.ErrClosed. The engine keeps running
// (and keeps its data directory locked) until the process exits. Close is
// safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.drain(s.size)
		s.eng.release()
	})
	return nil
}

func (s *Store) drain(n int) {
	for range n {
		c := <-s.pool
		c.close()
	}
}

// acquire takes a free connection.
func (s *Store) acquire(ctx context.Context) (*conn, error) {
	select {
	case <-s.done:
		return nil, olap.ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case c := <-s.pool:
		select {
		case <-s.done:
			s.pool <- c
			return nil, olap.ErrClosed
		default:
		}
		return c, nil
	case <-s.done:
		return nil, olap.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Store) release(c *conn) { s.pool <- c }

// Ping runs SELECT 1.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.exec(ctx, "SELECT 1", fmtTSV, nil)
	return err
}

func (s *Store) exec(ctx context.Context, sql string, format []byte, params []olap.Param) ([]byte, error) {
	c, err := s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release(c)
	return c.query(sql, format, params)
}

// Query runs sql with params bound by the engine (chdb_query_with_params_n;
// values as escaped text, integer ranges checked first) and returns the
// JSONCompact result.
func (s *Store) Query(ctx context.Context, sql string, params []olap.Param) (*olap.Result, error) {
	out, err := s.exec(ctx, sql, fmtJSONCompact, params)
	if err != nil {
		return nil, err
	}
	return parseResult(out)
}

func parseResult(out []byte) (*olap.Result, error) {
	res := &olap.Result{}
	if len(bytes.TrimSpace(out)) == 0 { // a statement without a result set
		return res, nil
	}
	var body struct {
		Meta []olap.ColumnMeta   `json:"meta"`
		Data [][]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(out, &body); err != nil {
		return nil, fmt.Errorf("decoding chDB result: %w", err)
	}
	res.Columns, res.Rows = body.Meta, body.Data
	if res.Rows == nil {
		res.Rows = [][]json.RawMessage{}
	}
	return res, nil
}

// Insert stores rows (JSONEachRow) in table with one streaming INSERT, sent
// in chunks of at most 2 MiB split on line boundaries. The connection
// settings make the whole INSERT one block, so it becomes one part, written
// when the stream finishes: a bad row anywhere fails the batch and nothing
// of it is stored. Durability: see the package documentation.
func (s *Store) Insert(ctx context.Context, table string, rows []byte) error {
	// The engine deduplicates recent blocks (dedupWindow); a token-less
	// insert would be deduplicated by content, dropping a legitimate repeat
	// of the same rows. A fresh random token keeps every Insert.
	var tok [16]byte
	rand.Read(tok[:])
	return s.InsertDedup(ctx, table, rows, "rnd-"+hex.EncodeToString(tok[:]))
}

// InsertDedup is Insert under an idempotency token (olap.DedupWriter).
func (s *Store) InsertDedup(ctx context.Context, table string, rows []byte, token string) error {
	c, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.release(c)
	if len(bytes.TrimSpace(rows)) == 0 {
		return nil
	}
	if err := c.insert(table, " SETTINGS insert_deduplication_token = "+chsql.QuoteString(token), rows, ctx.Err); err != nil {
		return fmt.Errorf("inserting into %s: %w", table, err)
	}
	return nil
}

// DDL renders c with chsql.Modern, unqualified (current database).
func (s *Store) DDL(c olap.Change) (string, error) {
	return chsql.Modern.DDL("", c)
}

// Apply runs the changes in order and stops at the first error.
func (s *Store) Apply(ctx context.Context, changes []olap.Change) error {
	for _, ch := range changes {
		sql, err := s.DDL(ch)
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, sql, fmtTSV, nil); err != nil {
			return fmt.Errorf("applying %s on %s: %w", ch.Kind, ch.Table.Name, err)
		}
	}
	return nil
}

// Tables lists the MergeTree-family tables of the current database.
func (s *Store) Tables(ctx context.Context) ([]olap.Table, error) {
	const tablesSQL = `SELECT name, sorting_key FROM system.tables
WHERE database = currentDatabase() AND NOT is_temporary AND engine LIKE '%MergeTree' ORDER BY name`
	const columnsSQL = `SELECT table, name, type FROM system.columns
WHERE database = currentDatabase() ORDER BY table, position`
	tr, err := s.Query(ctx, tablesSQL, nil)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	cr, err := s.Query(ctx, columnsSQL, nil)
	if err != nil {
		return nil, fmt.Errorf("listing columns: %w", err)
	}
	byName := map[string]*olap.Table{}
	tables := make([]olap.Table, 0, len(tr.Rows))
	for _, row := range tr.Rows {
		var name, key string
		if err := unmarshalRow(row, &name, &key); err != nil {
			return nil, err
		}
		tables = append(tables, olap.Table{Name: name, Columns: []olap.Column{}, OrderBy: ParseOrderBy(key)})
	}
	for i := range tables {
		byName[tables[i].Name] = &tables[i]
	}
	for _, row := range cr.Rows {
		var table, name, typ string
		if err := unmarshalRow(row, &table, &name, &typ); err != nil {
			return nil, err
		}
		t, ok := byName[table]
		if !ok {
			continue
		}
		col := olap.Column{Name: name}
		col.Type, col.Nullable = SplitNullable(typ)
		t.Columns = append(t.Columns, col)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	return tables, nil
}

func unmarshalRow(row []json.RawMessage, dst ...*string) error {
	if len(row) != len(dst) {
		return fmt.Errorf("system table row has %d fields, want %d", len(row), len(dst))
	}
	for i, d := range dst {
		if err := json.Unmarshal(row[i], d); err != nil {
			return fmt.Errorf("decoding system table row: %w", err)
		}
	}
	return nil
}

// SplitNullable unwraps Nullable(T) and LowCardinality(Nullable(T)) into
// the type without the wrapper and a Nullable flag.
func SplitNullable(t string) (string, bool) {
	if inner, ok := unwrap(t, "Nullable"); ok {
		return inner, true
	}
	if inner, ok := unwrap(t, "LowCardinality"); ok {
		if n, ok := unwrap(inner, "Nullable"); ok {
			return "LowCardinality(" + n + ")", true
		}
	}
	return t, false
}

func unwrap(t, fn string) (string, bool) {
	if strings.HasPrefix(t, fn+"(") && strings.HasSuffix(t, ")") {
		return t[len(fn)+1 : len(t)-1], true
	}
	return "", false
}

// ParseOrderBy splits a sorting_key ("a, b", "`odd name`, c", "" for
// tuple()) into column names. Expressions are kept as text.
func ParseOrderBy(key string) []string {
	key = strings.TrimSpace(key)
	if key == "" || key == "tuple()" {
		return []string{}
	}
	var out []string
	depth, start := 0, 0
	inQuote := byte(0)
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case inQuote != 0:
			if c == '\\' {
				i++
			} else if c == inQuote {
				inQuote = 0
			}
		case c == '`' || c == '"' || c == '\'':
			inQuote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, unquoteIdent(key[start:i]))
			start = i + 1
		}
	}
	return append(out, unquoteIdent(key[start:]))
}

func unquoteIdent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '`' || s[0] == '"') && s[len(s)-1] == s[0] {
		var b strings.Builder
		for i := 1; i < len(s)-1; i++ {
			if s[i] == '\\' && i+1 < len(s)-1 {
				i++
			}
			b.WriteByte(s[i])
		}
		return b.String()
	}
	return s
}

func quoteIdent(name string) string { return chsql.QuoteIdent(name) }
