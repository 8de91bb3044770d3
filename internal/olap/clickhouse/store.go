package clickhouse

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
)

// defaultInsertBlock is ClickHouse's default max_insert_block_size.
const defaultInsertBlock = 1 << 20

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

func gzipBytes(p []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(p)/4 + 64)
	w := gzipPool.Get().(*gzip.Writer)
	w.Reset(&buf)
	_, _ = w.Write(p) // writes to a bytes.Buffer cannot fail
	_ = w.Close()
	gzipPool.Put(w)
	return buf.Bytes()
}

// Insert stores JSONEachRow rows in one INSERT, gzip-compressed. The batch
// is parsed into a single block, so it is stored whole or not at all (for a
// table without PARTITION BY, as moose creates them).
func (s *Store) Insert(ctx context.Context, table string, rows []byte) error {
	if len(bytes.TrimSpace(rows)) == 0 {
		if s.closed.Load() {
			return fmt.Errorf("clickhouse insert: %w", olap.ErrClosed)
		}
		return nil
	}
	n := bytes.Count(rows, []byte{'\n'}) + 1
	block := max(defaultInsertBlock, n+1)
	settings := url.Values{
		"input_format_skip_unknown_fields": {"0"},
		"date_time_input_format":           {"best_effort"},
		"max_insert_block_size":            {strconv.Itoa(block)},
	}
	if s.version.AtLeast(20, 1) {
		// Parallel parsing cuts the input into chunks that can become
		// separate parts; one block needs one parser.
		settings.Set("input_format_parallel_parsing", "0")
		settings.Set("min_insert_block_size_rows", strconv.Itoa(block))
	}
	_, _, err := s.send(ctx, "insert", request{
		query:    "INSERT INTO " + chsql.TableRef(s.db, table) + " FORMAT JSONEachRow",
		data:     gzipBytes(rows),
		settings: settings,
	})
	return err
}

// Query runs read-only SQL. Placeholders are bound by the server when it can
// (>= 19.11), else replaced by typed, escaped literals.
func (s *Store) Query(ctx context.Context, sql string, params []olap.Param) (*olap.Result, error) {
	settings := url.Values{}
	text := sql
	if s.useParams {
		for _, p := range params {
			v, err := chsql.Modern.ParamText(p)
			if err != nil {
				return nil, &Error{Op: "query", Msg: err.Error(), Kind: olap.ErrBadQuery}
			}
			settings.Set("param_"+p.Name, v)
		}
	} else {
		var err error
		if text, err = s.renderLiterals(sql, params); err != nil {
			return nil, &Error{Op: "query", Msg: err.Error(), Kind: olap.ErrBadQuery}
		}
	}
	return s.query(ctx, "query", text, settings)
}

func (s *Store) renderLiterals(sql string, params []olap.Param) (string, error) {
	byName := make(map[string]olap.Param, len(params))
	for _, p := range params {
		byName[p.Name] = p
	}
	return chsql.Render(sql, func(name, typ string) (string, error) {
		p, ok := byName[name]
		if !ok {
			return "", fmt.Errorf("no value for query parameter %s", name)
		}
		// The placeholder's type decides, as it does for server binding.
		p.Type = typ
		return s.dialect.Literal(p)
	})
}

// query runs text (already bound) and decodes its JSONCompact result.
func (s *Store) query(ctx context.Context, op, text string, settings url.Values) (*olap.Result, error) {
	settings.Set("default_format", "JSONCompact")
	settings.Set("output_format_json_quote_64bit_integers", "0")
	settings.Set("output_format_json_quote_denormals", "0")
	settings.Set("output_format_json_escape_forward_slashes", "0")
	// Buffer the result on the server, so a failure half-way is an HTTP
	// error and not a 200 with an exception appended to the JSON.
	settings.Set("wait_end_of_query", "1")
	body, _, err := s.send(ctx, op, request{body: text, settings: settings, readonly: true})
	if err != nil {
		return nil, err
	}
	res := &olap.Result{Columns: []olap.ColumnMeta{}, Rows: [][]json.RawMessage{}}
	if len(bytes.TrimSpace(body)) == 0 {
		return res, nil
	}
	var out struct {
		Meta []olap.ColumnMeta   `json:"meta"`
		Data [][]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, &Error{Op: op, Msg: "result is not JSONCompact (does the query set its own FORMAT?)", Kind: olap.ErrBadQuery}
	}
	if out.Meta != nil {
		res.Columns = out.Meta
	}
	if out.Data != nil {
		res.Rows = out.Data
	}
	return res, nil
}

// exec runs a statement without a result (DDL).
func (s *Store) exec(ctx context.Context, op, text string) error {
	_, _, err := s.send(ctx, op, request{body: text})
	return err
}

// Tables lists the MergeTree-family tables of the database, sorted by name.
// Types are the server's: on 18.16 a Bool column reads back as UInt8 and a
// LowCardinality(String) as String, because that is what was created.
func (s *Store) Tables(ctx context.Context) ([]olap.Table, error) {
	db := chsql.QuoteString(s.db)
	filter := " FROM system.tables WHERE database = " + db +
		" AND engine LIKE '%MergeTree' AND name NOT LIKE '.inner%' ORDER BY name"
	res, err := s.query(ctx, "tables", "SELECT name, sorting_key"+filter, url.Values{})
	keyIsExpr := false
	var ce *Error
	if errors.As(err, &ce) && ce.Code == codeUnknownIdentifier {
		// Servers without system.tables.sorting_key: read ORDER BY from
		// the engine definition.
		res, err = s.query(ctx, "tables", "SELECT name, engine_full"+filter, url.Values{})
		keyIsExpr = true
	}
	if err != nil {
		return nil, err
	}
	tables := make([]olap.Table, 0, len(res.Rows))
	index := make(map[string]int, len(res.Rows))
	for _, row := range res.Rows {
		var name, key string
		if len(row) != 2 || json.Unmarshal(row[0], &name) != nil || json.Unmarshal(row[1], &key) != nil {
			return nil, &Error{Op: "tables", Msg: "unexpected system.tables row", Kind: olap.ErrUnavailable}
		}
		if keyIsExpr {
			key = orderByFromEngine(key)
		}
		index[name] = len(tables)
		tables = append(tables, olap.Table{Name: name, Columns: []olap.Column{}, OrderBy: splitKey(key)})
	}
	if len(tables) == 0 {
		return tables, nil
	}
	// No ORDER BY: system.columns lists each table's columns in definition
	// order, and 18.16 has no position column to sort by.
	cols, err := s.query(ctx, "tables", "SELECT table, name, type FROM system.columns WHERE database = "+db, url.Values{})
	if err != nil {
		return nil, err
	}
	for _, row := range cols.Rows {
		var table, name, typ string
		if len(row) != 3 || json.Unmarshal(row[0], &table) != nil || json.Unmarshal(row[1], &name) != nil ||
			json.Unmarshal(row[2], &typ) != nil {
			return nil, &Error{Op: "tables", Msg: "unexpected system.columns row", Kind: olap.ErrUnavailable}
		}
		i, ok := index[table]
		if !ok {
			continue
		}
		c := olap.Column{Name: name, Type: typ}
		if inner, ok := strings.CutPrefix(typ, "Nullable("); ok && strings.HasSuffix(inner, ")") {
			c.Type, c.Nullable = inner[:len(inner)-1], true
		}
		tables[i].Columns = append(tables[i].Columns, c)
	}
	return tables, nil
}

// orderByFromEngine extracts the ORDER BY expression from engine_full, e.g.
// "MergeTree() ORDER BY (a, b) SETTINGS index_granularity = 8192" → "(a, b)".
func orderByFromEngine(engine string) string {
	i := strings.Index(engine, " ORDER BY ")
	if i < 0 {
		return ""
	}
	rest := engine[i+len(" ORDER BY "):]
	depth := 0
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '(':
			depth++
		case ')':
			depth--
		case '`':
			j = closingBacktick(rest, j)
		case ' ':
			if depth == 0 {
				for _, kw := range []string{" SETTINGS ", " SAMPLE BY ", " TTL ", " PRIMARY KEY ", " PARTITION BY "} {
					if strings.HasPrefix(rest[j:], kw) {
						return rest[:j]
					}
				}
			}
		}
	}
	return rest
}

// splitKey turns a sorting key ("a, b", "(a, b)", "tuple()", "") into
// column names, unquoting backticks.
func splitKey(key string) []string {
	key = strings.TrimSpace(key)
	if key == "" || key == "tuple()" {
		return []string{}
	}
	if strings.HasPrefix(key, "(") && strings.HasSuffix(key, ")") && balanced(key[1:len(key)-1]) {
		key = key[1 : len(key)-1]
	}
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '`':
			i = closingBacktick(key, i)
		case ',':
			if depth == 0 {
				out = append(out, unquoteIdent(key[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, unquoteIdent(key[start:]))
}

// closingBacktick is the index of the backtick that closes the quoted name
// opening at s[i] (backslash escapes skipped), or len(s)-1.
func closingBacktick(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '`':
			return j
		}
	}
	return len(s) - 1
}

func balanced(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

func unquoteIdent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		s = s[1 : len(s)-1]
		s = strings.NewReplacer("\\`", "`", "\\\\", "\\").Replace(s)
	}
	return s
}

// DDL renders the statement Apply runs for c. ClickHouse 18.16 has no
// ADD COLUMN IF NOT EXISTS / DROP COLUMN IF EXISTS, so its dialect leaves
// them out and Apply checks the column first.
func (s *Store) DDL(c olap.Change) (string, error) {
	return s.dialect.DDL(s.db, c)
}

// Apply runs the changes in order and stops at the first error.
func (s *Store) Apply(ctx context.Context, changes []olap.Change) error {
	for _, c := range changes {
		stmt, err := s.DDL(c)
		if err != nil {
			return fmt.Errorf("applying %s on %s: %w: %w", c.Kind, c.Table.Name, olap.ErrBadQuery, err)
		}
		if s.dialect.Legacy && (c.Kind == olap.AddColumn || c.Kind == olap.DropColumn) && c.Column != nil {
			exists, err := s.columnExists(ctx, c.Table.Name, c.Column.Name)
			if err != nil {
				return fmt.Errorf("applying %s on %s: %w", c.Kind, c.Table.Name, err)
			}
			if exists == (c.Kind == olap.AddColumn) {
				continue // what IF [NOT] EXISTS would have skipped
			}
		}
		if err := s.exec(ctx, "apply", stmt); err != nil {
			return fmt.Errorf("applying %s on %s: %w", c.Kind, c.Table.Name, err)
		}
	}
	return nil
}

func (s *Store) columnExists(ctx context.Context, table, column string) (bool, error) {
	res, err := s.query(ctx, "apply", "SELECT count() FROM system.columns WHERE database = "+chsql.QuoteString(s.db)+
		" AND table = "+chsql.QuoteString(table)+" AND name = "+chsql.QuoteString(column), url.Values{})
	if err != nil {
		return false, err
	}
	return len(res.Rows) == 1 && len(res.Rows[0]) == 1 && string(res.Rows[0][0]) != "0", nil
}
