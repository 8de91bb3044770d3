package clickhouse

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
)

// jsonEqual compares two JSON texts as values; numbers compare by value at
// full precision.
func jsonEqual(a, b []byte) bool {
	va, err1 := decodeNumbers(a)
	vb, err2 := decodeNumbers(b)
	return err1 == nil && err2 == nil && valueEqual(va, vb)
}

func decodeNumbers(p []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func valueEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, _, e1 := big.ParseFloat(string(x), 10, 200, big.ToNearestEven)
		fy, _, e2 := big.ParseFloat(string(y), 10, 200, big.ToNearestEven)
		if e1 != nil || e2 != nil {
			return false
		}
		// Float32 columns print shortest-float32 text; compare loosely.
		diff := new(big.Float).Sub(fx, fy)
		return diff.Sign() == 0 || new(big.Float).Abs(diff).Cmp(new(big.Float).Mul(new(big.Float).Abs(fx), big.NewFloat(1e-6))) < 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(a, b)
	}
}

func TestVersionDetection(t *testing.T) {
	s := openStore(t)
	res, err := s.Query(ctxT(t), "SELECT version() AS v", nil)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	if err := json.Unmarshal(res.Rows[0][0], &text); err != nil {
		t.Fatal(err)
	}
	if s.Version().Text != text {
		t.Errorf("Version() = %q, server says %q", s.Version().Text, text)
	}
	v := s.Version()
	if got, want := s.Dialect().Legacy, v.Major < 19; got != want {
		t.Errorf("version %s: legacy dialect = %v, want %v", v, got, want)
	}
	if got, want := s.useParams, v.AtLeast(19, 11); got != want {
		t.Errorf("version %s: server params = %v, want %v", v, got, want)
	}
	t.Logf("server %s, legacy=%v, server params=%v", v, s.Dialect().Legacy, s.useParams)
}

func TestPing(t *testing.T) {
	s := openStore(t)
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if err := s.Ping(ctxT(t)); !errors.Is(err, olap.ErrClosed) {
		t.Fatalf("Ping after Close: %v, want ErrClosed", err)
	}
}

// typeCase is one column of the round-trip table: the value ingest would
// send and what the server returns.
type typeCase struct {
	col        string
	typ        string
	in, out    string
	modernOnly bool
}

var typeCases = []typeCase{
	{col: "s", typ: "String", in: `"héllo \"q\" \\ / \u0000 \t"`, out: `"héllo \"q\" \\ / \u0000 \t"`},
	{col: "i8", typ: "Int8", in: `-128`, out: `-128`},
	{col: "i16", typ: "Int16", in: `-32768`, out: `-32768`},
	{col: "i32", typ: "Int32", in: `-2147483648`, out: `-2147483648`},
	{col: "i64", typ: "Int64", in: `-9223372036854775808`, out: `-9223372036854775808`},
	{col: "u8", typ: "UInt8", in: `255`, out: `255`},
	{col: "u16", typ: "UInt16", in: `65535`, out: `65535`},
	{col: "u32", typ: "UInt32", in: `4294967295`, out: `4294967295`},
	{col: "u64", typ: "UInt64", in: `18446744073709551615`, out: `18446744073709551615`},
	{col: "f32", typ: "Float32", in: `1.5`, out: `1.5`},
	{col: "f64", typ: "Float64", in: `-2.25e-10`, out: `-2.25e-10`},
	{col: "d", typ: "Date", in: `"2024-02-29"`, out: `"2024-02-29"`},
	{col: "dt_iso", typ: "DateTime", in: `"2024-02-29T23:59:58Z"`, out: `"2024-02-29 23:59:58"`},
	{col: "dt_offset", typ: "DateTime", in: `"2024-03-01T01:59:58+02:00"`, out: `"2024-02-29 23:59:58"`},
	{col: "dt_plain", typ: "DateTime", in: `"2024-02-29 23:59:58"`, out: `"2024-02-29 23:59:58"`},
	{col: "ns", typ: "Nullable(String)", in: `null`, out: `null`},
	{col: "ni", typ: "Nullable(Int64)", in: `9223372036854775807`, out: `9223372036854775807`},
	{col: "as", typ: "Array(String)", in: `["a","b'\\"]`, out: `["a","b'\\"]`},
	{col: "ai", typ: "Array(Int64)", in: `[1,-9223372036854775808]`, out: `[1,-9223372036854775808]`},
	{col: "uuid", typ: "UUID", in: `"61f0c404-5cb3-11e7-907b-a6006ad3dba0"`, out: `"61f0c404-5cb3-11e7-907b-a6006ad3dba0"`},
	{col: "e", typ: "Enum8('a' = 1, 'b' = 2)", in: `"b"`, out: `"b"`},
	{col: "fs", typ: "FixedString(4)", in: `"ab"`, out: `"ab\u0000\u0000"`},
	{col: "dec", typ: "Decimal(18, 4)", in: `12.3456`, out: `12.3456`},
	{col: "lc", typ: "LowCardinality(String)", in: `"x"`, out: `"x"`},
	{col: "b", typ: "Bool", in: `true`, out: `true`, modernOnly: true},
}

func TestInsertQueryRoundTrip(t *testing.T) {
	s := openStore(t)
	ctx := ctxT(t)
	var cases []typeCase
	tbl := olap.Table{Name: "types", OrderBy: []string{"i64"}}
	for _, c := range typeCases {
		if c.modernOnly && s.Dialect().Legacy {
			continue
		}
		cases = append(cases, c)
		col := olap.Column{Name: c.col, Type: c.typ}
		if inner, ok := strings.CutPrefix(c.typ, "Nullable("); ok {
			col = olap.Column{Name: c.col, Type: strings.TrimSuffix(inner, ")"), Nullable: true}
		}
		tbl.Columns = append(tbl.Columns, col)
	}
	if err := s.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: tbl}}); err != nil {
		t.Fatal(err)
	}
	var row bytes.Buffer
	row.WriteByte('{')
	names := make([]string, len(cases))
	for i, c := range cases {
		if i > 0 {
			row.WriteByte(',')
		}
		fmt.Fprintf(&row, "%q:%s", c.col, c.in)
		names[i] = chsql.QuoteIdent(c.col)
	}
	row.WriteString("}\n")
	if err := s.Insert(ctx, "types", row.Bytes()); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	res, err := s.Query(ctx, "SELECT "+strings.Join(names, ", ")+" FROM types", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != len(cases) {
		t.Fatalf("got %d rows of %v", len(res.Rows), res.Rows)
	}
	for i, c := range cases {
		t.Run(c.col+"_"+c.typ, func(t *testing.T) {
			got := res.Rows[0][i]
			if !jsonEqual(got, []byte(c.out)) {
				t.Errorf("%s: got %s, want %s", c.typ, got, c.out)
			}
			if res.Columns[i].Name != c.col {
				t.Errorf("column name %q, want %q", res.Columns[i].Name, c.col)
			}
		})
	}
}

func TestInt64Unquoted(t *testing.T) {
	s := openStore(t)
	res, err := s.Query(ctxT(t), "SELECT toInt64(-9223372036854775808) AS a, toUInt64(18446744073709551615) AS b, toInt64(42) AS c, toFloat64(1)/0 AS inf", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-9223372036854775808", "18446744073709551615", "42", "null"}
	for i, w := range want {
		if got := string(res.Rows[0][i]); got != w {
			t.Errorf("column %s: raw %s, want %s", res.Columns[i].Name, got, w)
		}
	}
}

func TestInsertIsGzipped(t *testing.T) {
	rec, client := newRecorder()
	s := openStore(t, func(o *Options) { o.HTTPClient = client })
	ctx := ctxT(t)
	if err := s.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: olap.Table{
		Name: "g", Columns: []olap.Column{{Name: "id", Type: "UInt64"}, {Name: "s", Type: "String"}}, OrderBy: []string{"id"},
	}}}); err != nil {
		t.Fatal(err)
	}
	var rows bytes.Buffer
	for i := range 5000 {
		fmt.Fprintf(&rows, `{"id":%d,"s":"row %d"}`+"\n", i, i)
	}
	before := len(rec.all())
	if err := s.Insert(ctx, "g", rows.Bytes()); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()[before:]
	if len(reqs) != 1 {
		t.Fatalf("%d requests for one insert", len(reqs))
	}
	if got := reqs[0].Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding %q, want gzip", got)
	}
	u, _ := url.Parse(reqs[0].URL)
	q := u.Query()
	for k, want := range map[string]string{
		"input_format_skip_unknown_fields": "0",
		"date_time_input_format":           "best_effort",
		"query":                            "INSERT INTO " + chsql.TableRef(s.Database(), "g") + " FORMAT JSONEachRow",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("URL %s = %q, want %q", k, got, want)
		}
	}
	res, err := s.Query(ctx, "SELECT count(), sum(id) FROM g", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Rows[0][0]) + " " + string(res.Rows[0][1]); got != "5000 12497500" {
		t.Errorf("count, sum = %s", got)
	}
}

func TestInsertIsAtomic(t *testing.T) {
	s := openStore(t)
	ctx := ctxT(t)
	if err := s.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: olap.Table{
		Name: "a", Columns: []olap.Column{{Name: "id", Type: "UInt64"}, {Name: "ts", Type: "DateTime"}}, OrderBy: []string{"id"},
	}}}); err != nil {
		t.Fatal(err)
	}
	var rows bytes.Buffer
	const n = 50000
	for i := range n {
		ts := `"2024-01-01T00:00:00Z"`
		if i == n-1 {
			ts = `"not a time"`
		}
		fmt.Fprintf(&rows, `{"id":%d,"ts":%s}`+"\n", i, ts)
	}
	err := s.Insert(ctx, "a", rows.Bytes())
	if !errors.Is(err, olap.ErrBadQuery) {
		t.Fatalf("Insert with a bad last row: %v, want ErrBadQuery", err)
	}
	res, err := s.Query(ctx, "SELECT count() FROM a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Rows[0][0]); got != "0" {
		t.Errorf("%s rows stored from a failed batch, want 0", got)
	}
}

// paramStores returns the binding paths the server supports: literals always
// (forced), server-side parameters when the server has them.
func paramStores(t *testing.T) map[string]*Store {
	t.Helper()
	out := map[string]*Store{"literals": openStore(t, func(o *Options) { o.forceLiterals = true })}
	if s := openStore(t); s.useParams {
		out["server"] = s
	}
	return out
}

func TestParams(t *testing.T) {
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 2, 29, 23, 59, 58, 0, time.FixedZone("x", 3600))
	tests := []struct {
		name       string
		p          olap.Param
		want       string
		modernOnly bool
	}{
		{name: "string", p: olap.Param{Type: "String", Value: "a'b\\c"}, want: `"a'b\\c"`},
		{name: "int64 min", p: olap.Param{Type: "Int64", Value: int64(-9223372036854775808)}, want: `-9223372036854775808`},
		{name: "uint64 max", p: olap.Param{Type: "UInt64", Value: uint64(18446744073709551615)}, want: `18446744073709551615`},
		{name: "uint8", p: olap.Param{Type: "UInt8", Value: int64(7)}, want: `7`},
		{name: "float64", p: olap.Param{Type: "Float64", Value: 1.25}, want: `1.25`},
		{name: "date", p: olap.Param{Type: "Date", Value: day}, want: `"2024-02-29"`},
		{name: "datetime in UTC", p: olap.Param{Type: "DateTime", Value: at}, want: `"2024-02-29 22:59:58"`},
		{name: "array string", p: olap.Param{Type: "Array(String)", Value: []any{"x", "y'\\"}}, want: `["x","y'\\"]`},
		{name: "array int64", p: olap.Param{Type: "Array(Int64)", Value: []any{int64(1), int64(-2)}}, want: `[1,-2]`},
		{name: "nullable null", p: olap.Param{Type: "Nullable(String)", Value: nil}, want: `null`},
		{name: "nullable set", p: olap.Param{Type: "Nullable(Int64)", Value: int64(5)}, want: `5`},
		{name: "bool", p: olap.Param{Type: "Bool", Value: true}, want: `true`, modernOnly: true},
	}
	for path, s := range paramStores(t) {
		t.Run(path, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if tt.modernOnly && s.Dialect().Legacy {
						t.Skip("no Bool on ClickHouse " + s.Version().Text)
					}
					p := tt.p
					p.Name = "p"
					res, err := s.Query(ctxT(t), "SELECT {p:"+p.Type+"} AS v", []olap.Param{p})
					if err != nil {
						t.Fatal(err)
					}
					if got := res.Rows[0][0]; !jsonEqual(got, []byte(tt.want)) {
						t.Errorf("got %s, want %s", got, tt.want)
					}
				})
			}
		})
	}
}

var injections = []struct {
	name, value string
}{
	{"empty", ""},
	{"single quote", "'"},
	{"quote escape", `\'`},
	{"backslashes", `\\\`},
	{"trailing backslash", `abc\`},
	{"close and drop", `'); DROP TABLE x; --`},
	{"placeholder text", "{x:String}"},
	{"placeholder of itself", "{s:String}"},
	{"line comment", "-- c\nSELECT 2"},
	{"block comment", "/* c */ 1 */"},
	{"hash comment", "#! c"},
	{"NUL", "a\x00b"},
	{"control bytes", "\x01\x1f\x7f\r\n\t"},
	{"invalid UTF-8", "\xff\xfe\xc3\x28"},
	{"truncated UTF-8", "ab\xe2\x82"},
	{"unicode", "héllo 🌍 ∑"},
	{"backtick and double quote", "`\"`"},
	{"url metacharacters", "%41&param_s=1#?+ "},
	{"escaped hex text", `\x41\N\0`},
}

func TestInjectionRoundTrip(t *testing.T) {
	for path, s := range paramStores(t) {
		t.Run(path, func(t *testing.T) {
			for _, in := range injections {
				t.Run(in.name, func(t *testing.T) {
					res, err := s.Query(ctxT(t),
						"SELECT {s:String} AS v, hex({s:String}) AS h, length({s:String}) AS n, '{s:String}' AS lit -- {s:String}\n",
						[]olap.Param{{Name: "s", Type: "String", Value: in.value}})
					if err != nil {
						t.Fatal(err)
					}
					var h, lit string
					_ = json.Unmarshal(res.Rows[0][1], &h)
					_ = json.Unmarshal(res.Rows[0][3], &lit)
					if want := strings.ToUpper(hex.EncodeToString([]byte(in.value))); h != want {
						t.Errorf("hex %s, want %s", h, want)
					}
					if got, want := string(res.Rows[0][2]), fmt.Sprint(len(in.value)); got != want {
						t.Errorf("length %s, want %s", got, want)
					}
					if lit != "{s:String}" {
						t.Errorf("placeholder inside a string literal became %q", lit)
					}
					if utf8.ValidString(in.value) {
						var v string
						if err := json.Unmarshal(res.Rows[0][0], &v); err != nil || v != in.value {
							t.Errorf("value %q (%v), want %q", v, err, in.value)
						}
					}
				})
			}
		})
	}
}

func TestInjectionInsert(t *testing.T) {
	s := openStore(t)
	ctx := ctxT(t)
	if err := s.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: olap.Table{
		Name: "inj", Columns: []olap.Column{{Name: "id", Type: "UInt32"}, {Name: "s", Type: "String"}}, OrderBy: []string{"id"},
	}}}); err != nil {
		t.Fatal(err)
	}
	var rows bytes.Buffer
	for i, in := range injections {
		if !utf8.ValidString(in.value) {
			continue // JSON text cannot carry invalid UTF-8 as data
		}
		b, _ := json.Marshal(map[string]any{"id": i, "s": in.value})
		rows.Write(b)
		rows.WriteByte('\n')
	}
	if err := s.Insert(ctx, "inj", rows.Bytes()); err != nil {
		t.Fatal(err)
	}
	res, err := s.Query(ctx, "SELECT id, s FROM inj ORDER BY id", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		var id int
		var v string
		_ = json.Unmarshal(r[0], &id)
		_ = json.Unmarshal(r[1], &v)
		if v != injections[id].value {
			t.Errorf("%s: stored %q, want %q", injections[id].name, v, injections[id].value)
		}
	}
}

func TestErrors(t *testing.T) {
	s := openStore(t)
	ctx := ctxT(t)
	if err := s.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: olap.Table{
		Name: "e", Columns: []olap.Column{{Name: "id", Type: "UInt64"}, {Name: "ts", Type: "DateTime"}}, OrderBy: []string{"id"},
	}}}); err != nil {
		t.Fatal(err)
	}
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().String()
	_ = l.Close()

	closed := openStore(t)
	_ = closed.Close()

	tests := []struct {
		name string
		run  func(ctx context.Context) error
		want error
		code int
	}{
		{name: "query unknown table", want: olap.ErrTableNotFound, code: codeUnknownTable,
			run: func(ctx context.Context) error { _, err := s.Query(ctx, "SELECT * FROM nope", nil); return err }},
		{name: "insert unknown table", want: olap.ErrTableNotFound, code: codeUnknownTable,
			run: func(ctx context.Context) error { return s.Insert(ctx, "nope", []byte(`{"id":1}`)) }},
		{name: "syntax error", want: olap.ErrBadQuery, code: 62,
			run: func(ctx context.Context) error { _, err := s.Query(ctx, "SELEC 1", nil); return err }},
		{name: "unknown column", want: olap.ErrBadQuery, code: codeUnknownIdentifier,
			run: func(ctx context.Context) error { _, err := s.Query(ctx, "SELECT nope FROM e", nil); return err }},
		{name: "type error", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error { _, err := s.Query(ctx, "SELECT 1 + 'a'", nil); return err }},
		{name: "write through Query", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error { _, err := s.Query(ctx, "DROP TABLE e", nil); return err }},
		{name: "error after rows were produced", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error {
				_, err := s.Query(ctx, "SELECT throwIf(number = 200000) FROM system.numbers LIMIT 300000", nil)
				return err
			}},
		{name: "own FORMAT clause", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error { _, err := s.Query(ctx, "SELECT 1 FORMAT TSV", nil); return err }},
		{name: "missing parameter", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error { _, err := s.Query(ctx, "SELECT {x:String}", nil); return err }},
		{name: "bad parameter value", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error {
				_, err := s.Query(ctx, "SELECT {x:Int64}", []olap.Param{{Name: "x", Type: "Int64", Value: struct{}{}}})
				return err
			}},
		{name: "insert malformed JSON", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error { return s.Insert(ctx, "e", []byte(`{"id":1,`)) }},
		{name: "insert unknown field", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error { return s.Insert(ctx, "e", []byte(`{"id":1,"zz":2}`)) }},
		{name: "insert bad DateTime", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error { return s.Insert(ctx, "e", []byte(`{"id":1,"ts":"yesterday"}`)) }},
		{name: "connection refused", want: olap.ErrUnavailable,
			run: func(ctx context.Context) error { _, err := Open(ctx, Options{URL: "http://" + deadAddr}); return err }},
		{name: "deadline", want: context.DeadlineExceeded,
			run: func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				_, err := s.Query(ctx, "SELECT sleep(2)", nil)
				if !errors.Is(err, olap.ErrUnavailable) {
					return fmt.Errorf("not ErrUnavailable: %w", err)
				}
				return err
			}},
		{name: "cancelled", want: context.Canceled,
			run: func(ctx context.Context) error {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				_, err := s.Query(ctx, "SELECT 1", nil)
				return err
			}},
		{name: "closed store query", want: olap.ErrClosed,
			run: func(ctx context.Context) error { _, err := closed.Query(ctx, "SELECT 1", nil); return err }},
		{name: "closed store insert", want: olap.ErrClosed,
			run: func(ctx context.Context) error { return closed.Insert(ctx, "e", []byte(`{"id":1}`)) }},
		{name: "apply unsupported type", want: olap.ErrBadQuery,
			run: func(ctx context.Context) error {
				return s.Apply(ctx, []olap.Change{{Kind: olap.AddColumn, Table: olap.Table{Name: "e"},
					Column: &olap.Column{Name: "x", Type: "NoSuchType"}}})
			}},
		{name: "apply to missing table", want: olap.ErrTableNotFound,
			run: func(ctx context.Context) error {
				return s.Apply(ctx, []olap.Change{{Kind: olap.AddColumn, Table: olap.Table{Name: "nope"},
					Column: &olap.Column{Name: "x", Type: "String"}}})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(ctx)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || len(msg) > 600 {
				t.Errorf("message is not one short line: %q", msg)
			}
			if tt.code != 0 {
				var ce *Error
				if !errors.As(err, &ce) || ce.Code != tt.code {
					t.Errorf("code: got %v, want %d", err, tt.code)
				}
			}
			t.Logf("%v", err)
		})
	}
	// The failed inserts stored nothing.
	res, err := s.Query(ctx, "SELECT count() FROM e", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Rows[0][0]) != "0" {
		t.Errorf("failed inserts stored %s rows", res.Rows[0][0])
	}
}

func TestTables(t *testing.T) {
	s := openStore(t)
	ctx := ctxT(t)
	events := olap.Table{Name: "events", OrderBy: []string{"id", "ts"}, Columns: []olap.Column{
		{Name: "id", Type: "UInt64"},
		{Name: "ts", Type: "DateTime"},
		{Name: "note", Type: "String", Nullable: true},
		{Name: "tags", Type: "Array(String)"},
		{Name: "lc", Type: "LowCardinality(String)"},
	}}
	weird := olap.Table{Name: "weird`name", OrderBy: []string{"c`d", "a b"}, Columns: []olap.Column{
		{Name: "a b", Type: "String"},
		{Name: "c`d", Type: "Int32"},
	}}
	nokey := olap.Table{Name: "nokey", OrderBy: []string{}, Columns: []olap.Column{{Name: "x", Type: "String"}}}
	if err := s.Apply(ctx, []olap.Change{
		{Kind: olap.CreateTable, Table: weird},
		{Kind: olap.CreateTable, Table: events},
		{Kind: olap.CreateTable, Table: nokey},
		{Kind: olap.CreateTable, Table: events}, // IF NOT EXISTS
	}); err != nil {
		t.Fatal(err)
	}
	// Not MergeTree tables: a materialized view (and its .inner table) and a Memory table.
	for _, stmt := range []string{
		"CREATE MATERIALIZED VIEW mv ENGINE = MergeTree() ORDER BY id AS SELECT id FROM events",
		"CREATE TABLE mem (x String) ENGINE = Memory",
	} {
		if err := s.exec(ctx, "test", stmt); err != nil {
			t.Fatal(err)
		}
	}
	want := []olap.Table{events, nokey, weird}
	if s.Dialect().Legacy {
		want[0].Columns = append([]olap.Column(nil), events.Columns...)
		want[0].Columns[4].Type = "String" // what 18.16 was given
	}
	check := func(t *testing.T, want []olap.Table) {
		t.Helper()
		got, err := s.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("Tables:\n got %s\nwant %s", g, w)
		}
	}
	t.Run("created", func(t *testing.T) { check(t, want) })

	add := olap.Change{Kind: olap.AddColumn, Table: events, Column: &olap.Column{Name: "extra", Type: "Int32", Nullable: true}, After: "id"}
	drop := olap.Change{Kind: olap.DropColumn, Table: events, Column: &olap.Column{Name: "tags"}}
	modify := olap.Change{Kind: olap.ModifyColumn, Table: events, Column: &olap.Column{Name: "note", Type: "String"}}
	t.Run("altered twice", func(t *testing.T) {
		// Applying the same changes again is a no-op, as IF [NOT] EXISTS makes it.
		for range 2 {
			if err := s.Apply(ctx, []olap.Change{add, drop, modify}); err != nil {
				t.Fatal(err)
			}
		}
		w := append([]olap.Table(nil), want...)
		cols := []olap.Column{w[0].Columns[0], {Name: "extra", Type: "Int32", Nullable: true}, w[0].Columns[1],
			{Name: "note", Type: "String"}, w[0].Columns[4]}
		w[0].Columns = cols
		check(t, w)
	})
	t.Run("drop table", func(t *testing.T) {
		if err := s.Apply(ctx, []olap.Change{{Kind: olap.DropTable, Table: nokey}, {Kind: olap.DropTable, Table: nokey}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Name != "events" || got[1].Name != "weird`name" {
			t.Errorf("after drop: %+v", got)
		}
	})
	t.Run("empty database", func(t *testing.T) {
		got, err := openStore(t).Tables(ctx)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("Tables on an empty database: %#v, %v", got, err)
		}
	})
}

func TestDDLDialect(t *testing.T) {
	s := openStore(t)
	add := olap.Change{Kind: olap.AddColumn, Table: olap.Table{Name: "t"}, Column: &olap.Column{Name: "c", Type: "String"}, After: "a"}
	drop := olap.Change{Kind: olap.DropColumn, Table: olap.Table{Name: "t"}, Column: &olap.Column{Name: "c"}}
	ref := chsql.TableRef(s.Database(), "t")
	wantAdd := "ALTER TABLE " + ref + " ADD COLUMN IF NOT EXISTS `c` String AFTER `a`"
	wantDrop := "ALTER TABLE " + ref + " DROP COLUMN IF EXISTS `c`"
	if s.Dialect().Legacy {
		wantAdd = "ALTER TABLE " + ref + " ADD COLUMN `c` String AFTER `a`"
		wantDrop = "ALTER TABLE " + ref + " DROP COLUMN `c`"
	}
	for _, tt := range []struct {
		c    olap.Change
		want string
	}{{add, wantAdd}, {drop, wantDrop}} {
		got, err := s.DDL(tt.c)
		if err != nil || got != tt.want {
			t.Errorf("DDL(%s) = %q, %v; want %q", tt.c.Kind, got, err, tt.want)
		}
	}
}

// TestPasswordInHeaders uses the second user that scripts/clickhouse-server.sh
// configures (MOOSE_TEST_CLICKHOUSE_AUTH=user:password).
func TestPasswordInHeaders(t *testing.T) {
	u := serverURL(t)
	auth := os.Getenv("MOOSE_TEST_CLICKHOUSE_AUTH")
	if auth == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI requires MOOSE_TEST_CLICKHOUSE_AUTH (scripts/clickhouse-server.sh start prints it)")
		}
		t.Skip("MOOSE_TEST_CLICKHOUSE_AUTH is unset: " + startHint)
	}
	user, password, _ := strings.Cut(auth, ":")
	rec, client := newRecorder()
	s := openStore(t, func(o *Options) { o.User, o.Password, o.HTTPClient = user, password, client })
	ctx := ctxT(t)
	res, err := s.Query(ctx, "SELECT user FROM system.processes WHERE query LIKE '%moose-auth-probe%'", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) == 0 || string(res.Rows[0][0]) != `"`+user+`"` {
		t.Errorf("query ran as %v, want %s", res.Rows, user)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.all() {
		pu, _ := url.Parse(r.URL)
		if strings.Contains(r.URL, password) || strings.Contains(r.URL, url.QueryEscape(password)) ||
			strings.Contains(r.URL, url.PathEscape(password)) || pu.Query().Has("password") || pu.Query().Has("user") || pu.User != nil {
			t.Errorf("password in URL %s", r.URL)
		}
		if strings.HasSuffix(r.URL, "/ping") {
			continue
		}
		if r.Header.Get("X-ClickHouse-User") != user || r.Header.Get("X-ClickHouse-Key") != password {
			t.Errorf("request %s without the credential headers", r.URL)
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("request %s has an Authorization header", r.URL)
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		_, err := Open(ctx, Options{URL: u, User: user, Password: "wrong-" + password, Database: "default"})
		if !errors.Is(err, olap.ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Code != codeWrongPassword {
			t.Errorf("code: %v", err)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("error leaks the password: %v", err)
		}
	})
}
