package olaptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
)

// RunOptions adjusts the suite to what an engine's SQL dialect can do.
type RunOptions struct {
	// Legacy skips what ClickHouse 18.16 lacks (Bool, DateTime64) and
	// expects LowCardinality(String) to be stored as String and Bool as UInt8.
	Legacy bool
}

// Run runs the contract suite against the store that newStore returns.
// newStore is called once; the suite shares that store between subtests
// (tables get unique names) and closes it in its last subtest, "close", so
// the store's Close must be safe to call again from a cleanup.
func Run(t *testing.T, newStore func(t *testing.T) olap.Store, opts ...RunOptions) {
	var o RunOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s := &suite{opts: o, prefix: "olaptest_" + randHex(4) + "_"}
	if o.Legacy {
		s.dialect = chsql.Legacy18
	}
	s.store = newStore(t)
	t.Run("create_and_tables", s.testCreateAndTables)
	t.Run("insert_query_roundtrip", s.testRoundTrip)
	t.Run("empty_insert", s.testEmptyInsert)
	t.Run("params", s.testParams)
	t.Run("params_concurrent", s.testParamsConcurrent)
	t.Run("schema_changes", s.testSchemaChanges)
	t.Run("errors", s.testErrors)
	t.Run("failed_insert_stores_nothing", s.testFailedInsert)
	t.Run("close", s.testClose)
}

type suite struct {
	opts    RunOptions
	dialect chsql.Dialect
	prefix  string
	store   olap.Store
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// create makes a table and drops it when the test ends.
func (s *suite) create(t *testing.T, tb olap.Table) olap.Table {
	t.Helper()
	tb.Name = s.prefix + tb.Name
	if err := s.store.Apply(ctx(t), []olap.Change{{Kind: olap.CreateTable, Table: tb}}); err != nil {
		t.Fatalf("create %s: %v", tb.Name, err)
	}
	t.Cleanup(func() {
		_ = s.store.Apply(context.Background(), []olap.Change{{Kind: olap.DropTable, Table: olap.Table{Name: tb.Name}}})
	})
	return tb
}

func (s *suite) query(t *testing.T, sql string, params ...olap.Param) *olap.Result {
	t.Helper()
	r, err := s.store.Query(ctx(t), sql, params)
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return r
}

func (s *suite) count(t *testing.T, table string) string {
	t.Helper()
	r := s.query(t, "SELECT count() FROM "+chsql.QuoteIdent(table))
	return string(r.Rows[0][0])
}

// allTypes is a table with every SPEC column type.
func (s *suite) allTypes() olap.Table {
	cols := []olap.Column{
		{Name: "id", Type: "UInt64"},
		{Name: "i8", Type: "Int8"}, {Name: "i16", Type: "Int16"}, {Name: "i32", Type: "Int32"}, {Name: "i64", Type: "Int64"},
		{Name: "u8", Type: "UInt8"}, {Name: "u16", Type: "UInt16"}, {Name: "u32", Type: "UInt32"}, {Name: "u64", Type: "UInt64"},
		{Name: "f32", Type: "Float32"}, {Name: "f64", Type: "Float64"},
		{Name: "s", Type: "String"}, {Name: "ns", Type: "String", Nullable: true}, {Name: "ni", Type: "Int64", Nullable: true},
		{Name: "d", Type: "Date"}, {Name: "dt", Type: "DateTime"},
		{Name: "u", Type: "UUID"}, {Name: "dec", Type: "Decimal(18, 4)"},
		{Name: "arr", Type: "Array(String)"}, {Name: "arri", Type: "Array(Int32)"},
		{Name: "lc", Type: "LowCardinality(String)"},
	}
	if !s.opts.Legacy {
		cols = append(cols, olap.Column{Name: "b", Type: "Bool"}, olap.Column{Name: "dt64", Type: "DateTime64(3)"})
	}
	return olap.Table{Name: "all_types", Columns: cols, OrderBy: []string{"id"}}
}

// normType removes spaces so "Decimal(18, 4)" and "Decimal(18,4)" compare equal.
func normType(t string) string { return strings.ReplaceAll(t, " ", "") }

func (s *suite) findTable(t *testing.T, name string) (olap.Table, bool) {
	t.Helper()
	tables, err := s.store.Tables(ctx(t))
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	for i := 1; i < len(tables); i++ {
		if tables[i-1].Name >= tables[i].Name {
			t.Errorf("Tables not sorted by name: %q before %q", tables[i-1].Name, tables[i].Name)
		}
	}
	for _, tb := range tables {
		if tb.Name == name {
			return tb, true
		}
	}
	return olap.Table{}, false
}

// wantColumns checks got against want as the dialect stores them.
func (s *suite) wantColumns(t *testing.T, got, want []olap.Column) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("columns: got %v, want %v", got, want)
	}
	for i, w := range want {
		wt, err := s.dialect.Type(w.Type)
		if err != nil {
			t.Fatal(err)
		}
		g := got[i]
		if g.Name != w.Name || normType(g.Type) != normType(wt) || g.Nullable != w.Nullable {
			t.Errorf("column %d: got %+v, want {Name:%s Type:%s Nullable:%v}", i, g, w.Name, wt, w.Nullable)
		}
	}
}

func (s *suite) testCreateAndTables(t *testing.T) {
	tb := s.create(t, s.allTypes())
	got, ok := s.findTable(t, tb.Name)
	if !ok {
		t.Fatalf("Tables() lacks %s", tb.Name)
	}
	s.wantColumns(t, got.Columns, tb.Columns)
	if strings.Join(got.OrderBy, ",") != "id" {
		t.Errorf("OrderBy = %q, want [id]", got.OrderBy)
	}

	multi := s.create(t, olap.Table{Name: "multi key", Columns: []olap.Column{
		{Name: "k", Type: "String"}, {Name: "odd `name`", Type: "DateTime"}, {Name: "v", Type: "Float64", Nullable: true},
	}, OrderBy: []string{"k", "odd `name`"}})
	got, ok = s.findTable(t, multi.Name)
	if !ok {
		t.Fatalf("Tables() lacks %s", multi.Name)
	}
	s.wantColumns(t, got.Columns, multi.Columns)
	if len(got.OrderBy) != 2 || got.OrderBy[0] != "k" || got.OrderBy[1] != "odd `name`" {
		t.Errorf("OrderBy = %q, want [k, odd `name`]", got.OrderBy)
	}

	nokey := s.create(t, olap.Table{Name: "no_key", Columns: []olap.Column{{Name: "x", Type: "Int32"}}})
	got, ok = s.findTable(t, nokey.Name)
	if !ok {
		t.Fatalf("Tables() lacks %s", nokey.Name)
	}
	if len(got.OrderBy) != 0 {
		t.Errorf("OrderBy = %q, want empty (tuple())", got.OrderBy)
	}

	// Creating again is a no-op (IF NOT EXISTS).
	if err := s.store.Apply(ctx(t), []olap.Change{{Kind: olap.CreateTable, Table: nokey}}); err != nil {
		t.Errorf("second create: %v", err)
	}
	for _, c := range []olap.Change{
		{Kind: olap.CreateTable, Table: tb},
		{Kind: olap.DropTable, Table: tb},
		{Kind: olap.AddColumn, Table: tb, Column: &olap.Column{Name: "x", Type: "String"}},
		{Kind: olap.DropColumn, Table: tb, Column: &olap.Column{Name: "x"}},
		{Kind: olap.ModifyColumn, Table: tb, Column: &olap.Column{Name: "x", Type: "Int64"}},
	} {
		ddl, err := s.store.DDL(c)
		if err != nil || !strings.Contains(ddl, tb.Name) {
			t.Errorf("DDL(%s) = %q, %v", c.Kind, ddl, err)
		}
	}
}

const uuid1 = "123e4567-e89b-12d3-a456-426614174000"

func (s *suite) testRoundTrip(t *testing.T) {
	tb := s.create(t, s.allTypes())
	str := "héllo \"q\" 'sq' \\ back\nnew\ttab {x:String} -- c ✓"
	rows := []map[string]any{
		{
			"id": 1, "i8": -128, "i16": -32768, "i32": -2147483648, "i64": json.Number("-9223372036854775808"),
			"u8": 255, "u16": 65535, "u32": 4294967295, "u64": json.Number("18446744073709551615"),
			"f32": 1.5, "f64": -2.25, "s": str, "ns": nil, "ni": nil,
			"d": "2024-02-29", "dt": "2024-01-02 03:04:05", "u": uuid1, "dec": json.Number("12.34"),
			"arr": []string{"a", "b'c"}, "arri": []int{1, -2}, "lc": "x",
		},
		{
			"id": 2, "i8": 127, "i16": 32767, "i32": 2147483647, "i64": json.Number("9223372036854775807"),
			"u8": 0, "u16": 0, "u32": 0, "u64": 0,
			"f32": 0, "f64": 1e-300, "s": "", "ns": "n", "ni": 42,
			"d": "1970-01-02", "dt": "2038-01-19 03:14:07", "u": "00000000-0000-0000-0000-000000000000", "dec": json.Number("-0.0001"),
			"arr": []string{}, "arri": []int{}, "lc": "",
		},
	}
	if !s.opts.Legacy {
		rows[0]["b"], rows[0]["dt64"] = true, "2024-01-02 03:04:05.123"
		rows[1]["b"], rows[1]["dt64"] = false, "2024-01-02 03:04:05.000"
	}
	var body bytes.Buffer
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		body.Write(line)
		body.WriteByte('\n')
	}
	if err := s.store.Insert(ctx(t), tb.Name, body.Bytes()); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	res := s.query(t, "SELECT * FROM "+chsql.QuoteIdent(tb.Name)+" ORDER BY id")
	if len(res.Rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(res.Rows))
	}
	if len(res.Columns) != len(tb.Columns) {
		t.Fatalf("got columns %v", res.Columns)
	}
	for i, c := range res.Columns {
		if c.Name != tb.Columns[i].Name {
			t.Errorf("column %d named %q, want %q", i, c.Name, tb.Columns[i].Name)
		}
	}
	raw := func(row int, col string) string {
		for i, c := range res.Columns {
			if c.Name == col {
				return string(res.Rows[row][i])
			}
		}
		t.Fatalf("no column %s", col)
		return ""
	}
	exact := []struct {
		row       int
		col, want string
	}{
		{0, "id", "1"}, {0, "i8", "-128"}, {0, "i16", "-32768"}, {0, "i32", "-2147483648"},
		{0, "i64", "-9223372036854775808"}, {0, "u8", "255"}, {0, "u16", "65535"}, {0, "u32", "4294967295"},
		{0, "u64", "18446744073709551615"}, {0, "f32", "1.5"}, {0, "f64", "-2.25"},
		{0, "ns", "null"}, {0, "ni", "null"}, {0, "d", `"2024-02-29"`}, {0, "dt", `"2024-01-02 03:04:05"`},
		{0, "u", `"` + uuid1 + `"`}, {0, "lc", `"x"`},
		{1, "i64", "9223372036854775807"}, {1, "u64", "0"}, {1, "ns", `"n"`}, {1, "ni", "42"},
		{1, "dt", `"2038-01-19 03:14:07"`}, {1, "s", `""`},
	}
	if !s.opts.Legacy {
		exact = append(exact, []struct {
			row       int
			col, want string
		}{{0, "b", "true"}, {1, "b", "false"}, {0, "dt64", `"2024-01-02 03:04:05.123"`}}...)
	}
	for _, e := range exact {
		if got := raw(e.row, e.col); got != e.want {
			t.Errorf("row %d %s = %s, want %s", e.row, e.col, got, e.want)
		}
	}
	var gotS string
	if err := json.Unmarshal([]byte(raw(0, "s")), &gotS); err != nil || gotS != str {
		t.Errorf("s = %q (%v), want %q", gotS, err, str)
	}
	var arr []string
	if err := json.Unmarshal([]byte(raw(0, "arr")), &arr); err != nil || len(arr) != 2 || arr[1] != "b'c" {
		t.Errorf("arr = %s", raw(0, "arr"))
	}
	if got := strings.ReplaceAll(raw(0, "arri"), " ", ""); got != "[1,-2]" {
		t.Errorf("arri = %s, want [1,-2]", got)
	}
	for row, want := range []string{"12.34", "-0.0001"} {
		if !sameNumber(raw(row, "dec"), want) {
			t.Errorf("row %d dec = %s, want %s", row, raw(row, "dec"), want)
		}
	}
	if !sameNumber(raw(1, "f64"), "1e-300") {
		t.Errorf("f64 = %s, want 1e-300", raw(1, "f64"))
	}
}

func sameNumber(got, want string) bool {
	got = strings.Trim(got, `"`)
	a, ok1 := new(big.Rat).SetString(got)
	b, ok2 := new(big.Rat).SetString(want)
	return ok1 && ok2 && a.Cmp(b) == 0
}

func (s *suite) testEmptyInsert(t *testing.T) {
	tb := s.create(t, olap.Table{Name: "empty_insert", Columns: []olap.Column{{Name: "x", Type: "Int32"}}})
	for _, body := range [][]byte{nil, {}, []byte("\n")} {
		if err := s.store.Insert(ctx(t), tb.Name, body); err != nil {
			t.Errorf("Insert(%q): %v", body, err)
		}
	}
	if got := s.count(t, tb.Name); got != "0" {
		t.Errorf("count = %s, want 0", got)
	}
}

// injection holds strings that must come back byte-identical.
var injection = map[string]string{
	"quote":        `it's`,
	"double_quote": `say "hi"`,
	"backslash":    `C:\path\n\\`,
	"trailing_bs":  `end\`,
	"placeholder":  `{other:String}`,
	"comment":      `x' -- comment`,
	"semicolon":    `'; DROP TABLE t; --`,
	"nul":          "a\x00b",
	"control":      "\t\r\n\x01\x1f\x7f",
	"invalid_utf8": "ok\xff\xfe\xc3(",
	"unicode":      "日本語 ✓ é",
	"empty":        "",
	"escaped_tab":  `\t`,
	"null_text":    `\N`,
}

func (s *suite) testParams(t *testing.T) {
	for name, v := range injection {
		t.Run("string_"+name, func(t *testing.T) {
			r := s.query(t, "SELECT hex({s:String}) AS h, length({s:String}) AS n, {s:String} AS s",
				olap.Param{Name: "s", Type: "String", Value: v},
				olap.Param{Name: "other", Type: "String", Value: "WRONG"})
			wantHex := `"` + strings.ToUpper(hex.EncodeToString([]byte(v))) + `"`
			if got := string(r.Rows[0][0]); got != wantHex {
				t.Errorf("hex = %s, want %s", got, wantHex)
			}
			if got := string(r.Rows[0][1]); got != fmt.Sprint(len(v)) {
				t.Errorf("length = %s, want %d", got, len(v))
			}
			var back string
			if err := json.Unmarshal(r.Rows[0][2], &back); err != nil {
				t.Fatalf("decoding %s: %v", r.Rows[0][2], err)
			}
			if name != "invalid_utf8" && back != v {
				t.Errorf("value = %q, want %q", back, v)
			}
		})
	}
	t.Run("array_of_injection", func(t *testing.T) {
		elems := []any{`it's`, `a\b`, "x\x00y", `{s:String}`, `"]`}
		r := s.query(t, "SELECT length({a:Array(String)}), arrayStringConcat(arrayMap(x -> hex(x), {a:Array(String)}), ',')",
			olap.Param{Name: "a", Type: "Array(String)", Value: elems})
		var hx []string
		for _, e := range elems {
			hx = append(hx, strings.ToUpper(hex.EncodeToString([]byte(e.(string)))))
		}
		if got, want := string(r.Rows[0][0]), "5"; got != want {
			t.Errorf("length = %s, want %s", got, want)
		}
		if got, want := string(r.Rows[0][1]), `"`+strings.Join(hx, ",")+`"`; got != want {
			t.Errorf("hexes = %s, want %s", got, want)
		}
	})
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123_000_000, time.UTC)
	cases := []struct {
		name string
		p    olap.Param
		want string
	}{
		{"int8_min", olap.Param{Type: "Int8", Value: int64(-128)}, "-128"},
		{"int16_max", olap.Param{Type: "Int16", Value: int64(32767)}, "32767"},
		{"int32_min", olap.Param{Type: "Int32", Value: int64(-2147483648)}, "-2147483648"},
		{"int64_min", olap.Param{Type: "Int64", Value: int64(-9223372036854775808)}, "-9223372036854775808"},
		{"int64_max", olap.Param{Type: "Int64", Value: int64(9223372036854775807)}, "9223372036854775807"},
		{"uint8_max", olap.Param{Type: "UInt8", Value: uint64(255)}, "255"},
		{"uint32_max", olap.Param{Type: "UInt32", Value: uint64(4294967295)}, "4294967295"},
		{"uint64_max", olap.Param{Type: "UInt64", Value: uint64(18446744073709551615)}, "18446744073709551615"},
		{"float64", olap.Param{Type: "Float64", Value: -2.5}, "-2.5"},
		{"date", olap.Param{Type: "Date", Value: ts}, `"2024-01-02"`},
		{"datetime", olap.Param{Type: "DateTime", Value: ts}, `"2024-01-02 03:04:05"`},
		{"uuid", olap.Param{Type: "UUID", Value: uuid1}, `"` + uuid1 + `"`},
		{"decimal", olap.Param{Type: "Decimal(18, 4)", Value: "-12.5"}, "-12.5"},
		{"array_int32", olap.Param{Type: "Array(Int32)", Value: []any{int64(1), int64(-2)}}, "[1,-2]"},
		{"nullable_null", olap.Param{Type: "Nullable(String)", Value: nil}, "null"},
		{"nullable_value", olap.Param{Type: "Nullable(Int64)", Value: int64(7)}, "7"},
		{"lowcardinality", olap.Param{Type: "String", Value: "lc"}, `"lc"`},
	}
	if !s.opts.Legacy {
		cases = append(cases,
			struct {
				name string
				p    olap.Param
				want string
			}{"bool_true", olap.Param{Type: "Bool", Value: true}, "true"},
			struct {
				name string
				p    olap.Param
				want string
			}{"datetime64", olap.Param{Type: "DateTime64(3)", Value: ts}, `"2024-01-02 03:04:05.123"`})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.p.Name = "p"
			r := s.query(t, "SELECT {p:"+c.p.Type+"} AS v", c.p)
			got := string(r.Rows[0][0])
			if strings.HasPrefix(c.p.Type, "Array(") {
				got = strings.ReplaceAll(got, " ", "")
			}
			if got != c.want && !(strings.HasPrefix(c.p.Type, "Decimal") && sameNumber(got, c.want)) {
				t.Errorf("SELECT {p:%s} = %s, want %s", c.p.Type, got, c.want)
			}
		})
	}
	t.Run("where_clause", func(t *testing.T) {
		tb := s.create(t, olap.Table{Name: "params_where", Columns: []olap.Column{
			{Name: "k", Type: "String"}, {Name: "n", Type: "Int64"}, {Name: "ts", Type: "DateTime"},
		}, OrderBy: []string{"k"}})
		rows := `{"k":"a","n":1,"ts":"2024-01-01 00:00:00"}` + "\n" +
			`{"k":"it's","n":2,"ts":"2024-01-02 00:00:00"}` + "\n" +
			`{"k":"b","n":3,"ts":"2024-01-03 00:00:00"}` + "\n"
		if err := s.store.Insert(ctx(t), tb.Name, []byte(rows)); err != nil {
			t.Fatal(err)
		}
		r := s.query(t, "SELECT sum(n) FROM "+chsql.QuoteIdent(tb.Name)+" WHERE k = {k:String} OR ts >= {since:DateTime}",
			olap.Param{Name: "k", Type: "String", Value: "it's"},
			olap.Param{Name: "since", Type: "DateTime", Value: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)})
		if got := string(r.Rows[0][0]); got != "5" {
			t.Errorf("sum = %s, want 5", got)
		}
		r = s.query(t, "SELECT count() FROM "+chsql.QuoteIdent(tb.Name)+" WHERE k = {k:String}",
			olap.Param{Name: "k", Type: "String", Value: "a' OR '1'='1"})
		if got := string(r.Rows[0][0]); got != "0" {
			t.Errorf("injection matched %s rows", got)
		}
	})
}

// testParamsConcurrent: each in-flight query must see its own values.
func (s *suite) testParamsConcurrent(t *testing.T) {
	goroutines, each := 8, 50
	if testing.Short() {
		each = 10
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				v := fmt.Sprintf("g%d-i%d", g, i)
				r, err := s.store.Query(context.Background(), "SELECT {v:String}, {n:Int64} * 2",
					[]olap.Param{{Name: "v", Type: "String", Value: v}, {Name: "n", Type: "Int64", Value: int64(g*1000 + i)}})
				if err != nil {
					errs <- err
					continue
				}
				if got, want := string(r.Rows[0][0]), `"`+v+`"`; got != want {
					errs <- fmt.Errorf("got %s, want %s", got, want)
				}
				if got, want := string(r.Rows[0][1]), fmt.Sprint((g*1000+i)*2); got != want {
					errs <- fmt.Errorf("got %s, want %s", got, want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 5 {
		t.Errorf("%d wrong answers in all", n)
	}
}

func (s *suite) testSchemaChanges(t *testing.T) {
	tb := s.create(t, olap.Table{Name: "schema_changes", Columns: []olap.Column{
		{Name: "id", Type: "UInt64"}, {Name: "n", Type: "Int32"}, {Name: "gone", Type: "String"},
	}, OrderBy: []string{"id"}})
	if err := s.store.Insert(ctx(t), tb.Name, []byte(`{"id":1,"n":-5,"gone":"x"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	apply := func(c olap.Change) {
		t.Helper()
		c.Table = olap.Table{Name: tb.Name}
		if err := s.store.Apply(ctx(t), []olap.Change{c}); err != nil {
			t.Fatalf("%s: %v", c.Kind, err)
		}
	}
	apply(olap.Change{Kind: olap.AddColumn, Column: &olap.Column{Name: "note", Type: "String", Nullable: true}, After: "id"})
	apply(olap.Change{Kind: olap.AddColumn, Column: &olap.Column{Name: "last", Type: "Float64"}})
	apply(olap.Change{Kind: olap.DropColumn, Column: &olap.Column{Name: "gone"}})
	apply(olap.Change{Kind: olap.ModifyColumn, Column: &olap.Column{Name: "n", Type: "Int64"}})
	got, ok := s.findTable(t, tb.Name)
	if !ok {
		t.Fatalf("Tables() lacks %s", tb.Name)
	}
	s.wantColumns(t, got.Columns, []olap.Column{
		{Name: "id", Type: "UInt64"}, {Name: "note", Type: "String", Nullable: true},
		{Name: "n", Type: "Int64"}, {Name: "last", Type: "Float64"},
	})
	r := s.query(t, "SELECT id, note, n, last FROM "+chsql.QuoteIdent(tb.Name))
	if len(r.Rows) != 1 {
		t.Fatalf("rows = %d, want 1", len(r.Rows))
	}
	var parts []string
	for _, v := range r.Rows[0] {
		parts = append(parts, string(v))
	}
	if got := strings.Join(parts, ","); got != "1,null,-5,0" {
		t.Errorf("row after changes = %s, want 1,null,-5,0", got)
	}
	if err := s.store.Insert(ctx(t), tb.Name, []byte(`{"id":2,"note":"hi","n":9223372036854775807,"last":1.5}`+"\n")); err != nil {
		t.Fatalf("insert after changes: %v", err)
	}
	if got := s.count(t, tb.Name); got != "2" {
		t.Errorf("count = %s, want 2", got)
	}
	apply(olap.Change{Kind: olap.DropTable})
	if _, ok := s.findTable(t, tb.Name); ok {
		t.Errorf("table %s still listed after drop", tb.Name)
	}
	apply(olap.Change{Kind: olap.DropTable}) // IF EXISTS: dropping again is fine
}

func (s *suite) testErrors(t *testing.T) {
	missing := s.prefix + "does_not_exist"
	_, err := s.store.Query(ctx(t), "SELECT * FROM "+chsql.QuoteIdent(missing), nil)
	if !errors.Is(err, olap.ErrTableNotFound) {
		t.Errorf("query unknown table: %v, want ErrTableNotFound", err)
	}
	err = s.store.Insert(ctx(t), missing, []byte(`{"x":1}`+"\n"))
	if !errors.Is(err, olap.ErrTableNotFound) {
		t.Errorf("insert unknown table: %v, want ErrTableNotFound", err)
	}
	err = s.store.Apply(ctx(t), []olap.Change{{Kind: olap.AddColumn, Table: olap.Table{Name: missing},
		Column: &olap.Column{Name: "x", Type: "String"}}})
	if !errors.Is(err, olap.ErrTableNotFound) {
		t.Errorf("alter unknown table: %v, want ErrTableNotFound", err)
	}
	for _, sql := range []string{"SELEC 1", "SELECT nosuchfunction(1)", "SELECT 1 +"} {
		_, err := s.store.Query(ctx(t), sql, nil)
		switch {
		case !errors.Is(err, olap.ErrBadQuery):
			t.Errorf("Query(%q): %v, want ErrBadQuery", sql, err)
		case errors.Is(err, olap.ErrTableNotFound):
			t.Errorf("Query(%q): %v is also ErrTableNotFound", sql, err)
		case strings.Contains(err.Error(), "\n"):
			t.Errorf("Query(%q): error spans lines: %q", sql, err)
		}
	}
}

func (s *suite) testFailedInsert(t *testing.T) {
	tb := s.create(t, olap.Table{Name: "atomic", Columns: []olap.Column{
		{Name: "id", Type: "UInt64"}, {Name: "n", Type: "Int32"},
	}, OrderBy: []string{"id"}})
	var body bytes.Buffer
	for i := range 1000 {
		if i == 500 {
			body.WriteString(`{"id":500,"n":"not a number"}` + "\n")
			continue
		}
		fmt.Fprintf(&body, `{"id":%d,"n":%d}`+"\n", i, i)
	}
	if err := s.store.Insert(ctx(t), tb.Name, body.Bytes()); err == nil {
		t.Fatal("insert with a bad row succeeded")
	} else if !errors.Is(err, olap.ErrBadQuery) {
		t.Errorf("bad row: %v, want ErrBadQuery", err)
	}
	if got := s.count(t, tb.Name); got != "0" {
		t.Fatalf("after failed insert count = %s, want 0", got)
	}
	if err := s.store.Insert(ctx(t), tb.Name, []byte(`{"id":1,"n":1}`+"\n"+`{"id":2,"n":2}`+"\n")); err != nil {
		t.Fatalf("good insert after a failed one: %v", err)
	}
	if got := s.count(t, tb.Name); got != "2" {
		t.Errorf("count = %s, want 2", got)
	}
}

func (s *suite) testClose(t *testing.T) {
	if err := s.store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.store.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	c := ctx(t)
	if _, err := s.store.Query(c, "SELECT 1", nil); !errors.Is(err, olap.ErrClosed) {
		t.Errorf("Query after Close: %v, want ErrClosed", err)
	}
	if err := s.store.Insert(c, "x", []byte(`{"x":1}`)); !errors.Is(err, olap.ErrClosed) {
		t.Errorf("Insert after Close: %v, want ErrClosed", err)
	}
	if _, err := s.store.Tables(c); !errors.Is(err, olap.ErrClosed) {
		t.Errorf("Tables after Close: %v, want ErrClosed", err)
	}
	if err := s.store.Apply(c, []olap.Change{{Kind: olap.DropTable, Table: olap.Table{Name: "x"}}}); !errors.Is(err, olap.ErrClosed) {
		t.Errorf("Apply after Close: %v, want ErrClosed", err)
	}
}
