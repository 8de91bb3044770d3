package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/moose-go/moose/internal/project"
)

// The flag has its own name so that other test files of the package may
// define -update.
var updateRecord = flag.Bool("update-record", false, "rewrite record encoder golden files in testdata/")

func col(name, typ string) project.Column {
	return project.Column{Name: name, Type: typ, Required: true}
}

func optional(c project.Column) project.Column { c.Required = false; return c }

func claimCol(c project.Column, claim string) project.Column { c.JWTClaim = claim; return c }

func newEnc(t testing.TB, m *project.Model, opts ...EncoderOptions) *Encoder {
	t.Helper()
	e, err := NewEncoder(m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustEncode(t *testing.T, e *Encoder, body string, claims map[string]any) string {
	t.Helper()
	out, n, err := e.Encode(nil, []byte(body), claims)
	if err != nil {
		t.Fatalf("Encode(%s): %v", body, err)
	}
	if lines := strings.Count(string(out), "\n"); lines != n {
		t.Fatalf("n = %d but %d lines", n, lines)
	}
	return string(out)
}

// TestTypes encodes {"v": <in>} for a one-column model of each type.
func TestTypes(t *testing.T) {
	tests := []struct {
		typ, in string
		want    string // encoded value; "" means an error
		errSub  string
	}{
		// String
		{typ: "String", in: `"hello"`, want: `"hello"`},
		{typ: "String", in: `""`, want: `""`},
		{typ: "String", in: `"a\"b\\c\/\n\u00e9\ud83d\ude00"`, want: `"a\"b\\c\/\n\u00e9\ud83d\ude00"`},
		{typ: "String", in: `"héllo 😀 日本"`, want: `"héllo 😀 日本"`},
		{typ: "String", in: `"a long string that takes the eight-byte fast path of the scanner"`, want: `"a long string that takes the eight-byte fast path of the scanner"`},
		{typ: "String", in: `5`, errSub: `field "v": expected String (a JSON string), got 5`},
		{typ: "String", in: `["a"]`, errSub: `expected String (a JSON string), got ["a"]`},
		{typ: "String", in: `{"a":1}`, errSub: `got {"a":1}`},
		{typ: "String", in: `true`, errSub: "got true"},
		{typ: "LowCardinality(String)", in: `"x"`, want: `"x"`},
		{typ: "LowCardinality(String)", in: `1`, errSub: "expected LowCardinality(String)"},

		// Integers
		{typ: "Int8", in: `-128`, want: `-128`},
		{typ: "Int8", in: `127`, want: `127`},
		{typ: "Int8", in: `128`, errSub: "expected Int8 (-128..127), got 128"},
		{typ: "Int8", in: `-129`, errSub: "expected Int8 (-128..127), got -129"},
		{typ: "Int16", in: `-32768`, want: `-32768`},
		{typ: "Int16", in: `32768`, errSub: "expected Int16 (-32768..32767)"},
		{typ: "Int32", in: `2147483647`, want: `2147483647`},
		{typ: "Int32", in: `3000000000`, errSub: "expected Int32 (-2147483648..2147483647), got 3000000000"},
		{typ: "Int64", in: `-9223372036854775808`, want: `-9223372036854775808`},
		{typ: "Int64", in: `9223372036854775807`, want: `9223372036854775807`},
		{typ: "Int64", in: `9223372036854775808`, errSub: "expected Int64"},
		{typ: "Int64", in: `-9223372036854775809`, errSub: "expected Int64"},
		{typ: "UInt8", in: `255`, want: `255`},
		{typ: "UInt8", in: `256`, errSub: "expected UInt8 (0..255), got 256"},
		{typ: "UInt8", in: `-1`, errSub: "expected UInt8 (0..255), got -1"},
		{typ: "UInt8", in: `-0`, want: `0`},
		{typ: "UInt16", in: `65535`, want: `65535`},
		{typ: "UInt32", in: `4294967295`, want: `4294967295`},
		{typ: "UInt32", in: `4294967296`, errSub: "expected UInt32"},
		{typ: "UInt64", in: `18446744073709551615`, want: `18446744073709551615`},
		{typ: "UInt64", in: `18446744073709551616`, errSub: "expected UInt64 (0..18446744073709551615)"},
		{typ: "UInt64", in: `99999999999999999999`, errSub: "expected UInt64"},
		{typ: "UInt64", in: `123456789012345678901`, errSub: "expected UInt64"},
		{typ: "UInt64", in: `1.8446744073709551615e19`, want: `18446744073709551615`},
		{typ: "Int32", in: `1.0`, want: `1`},
		{typ: "Int32", in: `1e3`, want: `1000`},
		{typ: "Int32", in: `-1.50e1`, want: `-15`},
		{typ: "Int32", in: `0.0`, want: `0`},
		{typ: "Int32", in: `-0.0e10`, want: `0`},
		{typ: "Int32", in: `0e999999999`, want: `0`},
		{typ: "Int32", in: `1.5`, errSub: "expected Int32 (-2147483648..2147483647): not an integer, got 1.5"},
		{typ: "Int32", in: `1e-1`, errSub: "not an integer"},
		{typ: "Int32", in: `1e10`, errSub: "expected Int32"},
		{typ: "Int64", in: `1e999999999`, errSub: "expected Int64"},
		{typ: "Int32", in: `"5"`, errSub: `expected Int32 (-2147483648..2147483647), got "5"`},
		{typ: "Int32", in: `true`, errSub: "got true"},

		// Floats
		{typ: "Float64", in: `1.5`, want: `1.5`},
		{typ: "Float64", in: `-0`, want: `-0`},
		{typ: "Float64", in: `1e308`, want: `1e308`},
		{typ: "Float64", in: `1.7976931348623157e308`, want: `1.7976931348623157e308`},
		{typ: "Float64", in: `1e309`, errSub: "Float64 out of range, got 1e309"},
		{typ: "Float64", in: `1e-400`, want: `1e-400`},
		{typ: "Float64", in: `"1.5"`, errSub: "expected Float64 (a JSON number)"},
		{typ: "Float32", in: `3.4e38`, want: `3.4e38`},
		{typ: "Float32", in: `3.5e38`, errSub: "Float32 out of range"},
		{typ: "Float32", in: `1e39`, errSub: "Float32 out of range"},
		{typ: "Float32", in: `123456789012345678901234567890123456789`, want: `123456789012345678901234567890123456789`},
		{typ: "Float32", in: `1234567890123456789012345678901234567890`, errSub: "Float32 out of range"},

		// Bool
		{typ: "Bool", in: `true`, want: `true`},
		{typ: "Bool", in: `false`, want: `false`},
		{typ: "Bool", in: `1`, errSub: "expected Bool (true or false), got 1"},
		{typ: "Bool", in: `"true"`, errSub: "expected Bool"},

		// Date
		{typ: "Date", in: `"2024-02-29"`, want: `"2024-02-29"`},
		{typ: "Date", in: `"1970-01-01"`, want: `"1970-01-01"`},
		{typ: "Date", in: `"2149-06-06"`, want: `"2149-06-06"`},
		{typ: "Date", in: `"2149-06-07"`, errSub: `Date out of range 1970-01-01..2149-06-06, got "2149-06-07"`},
		{typ: "Date", in: `"1969-12-31"`, errSub: "Date out of range"},
		{typ: "Date", in: `"2023-02-29"`, errSub: `expected Date ("YYYY-MM-DD", 1970-01-01..2149-06-06), got "2023-02-29"`},
		{typ: "Date", in: `"2024-04-31"`, errSub: "expected Date"},
		{typ: "Date", in: `"2024-13-01"`, errSub: "expected Date"},
		{typ: "Date", in: `"2024-1-01"`, errSub: "expected Date"},
		{typ: "Date", in: `"2024-01-01T00:00:00Z"`, errSub: "expected Date"},
		{typ: "Date", in: `"\u0032024-01-01"`, want: `"2024-01-01"`},
		{typ: "Date", in: `20240101`, errSub: "expected Date"},

		// DateTime
		{typ: "DateTime", in: `"2024-01-02 03:04:05"`, want: `"2024-01-02 03:04:05"`},
		{typ: "DateTime", in: `"2024-01-02T03:04:05Z"`, want: `"2024-01-02 03:04:05"`},
		{typ: "DateTime", in: `"2024-01-02t03:04:05z"`, want: `"2024-01-02 03:04:05"`},
		{typ: "DateTime", in: `"2024-01-02T03:04:05.999999+02:00"`, want: `"2024-01-02 01:04:05"`},
		{typ: "DateTime", in: `"2024-01-01T01:00:00+05:30"`, want: `"2023-12-31 19:30:00"`},
		{typ: "DateTime", in: `"2024-02-28T23:00:00-02:00"`, want: `"2024-02-29 01:00:00"`},
		{typ: "DateTime", in: `"2024-01-02T03:04:05"`, want: `"2024-01-02 03:04:05"`},
		{typ: "DateTime", in: `"1970-01-01 00:00:00"`, want: `"1970-01-01 00:00:00"`},
		{typ: "DateTime", in: `"2106-02-07 06:28:15"`, want: `"2106-02-07 06:28:15"`},
		{typ: "DateTime", in: `"2106-02-07 06:28:16"`, errSub: "DateTime out of range 1970-01-01 00:00:00..2106-02-07 06:28:15 (UTC)"},
		{typ: "DateTime", in: `"1970-01-01T00:30:00+01:00"`, errSub: "DateTime out of range"},
		{typ: "DateTime", in: `"yesterday"`, errSub: `field "v": expected DateTime (RFC 3339 or "YYYY-MM-DD hh:mm:ss"), got "yesterday"`},
		{typ: "DateTime", in: `"2024-01-02 24:00:00"`, errSub: "expected DateTime"},
		{typ: "DateTime", in: `"2024-01-02 23:60:00"`, errSub: "expected DateTime"},
		{typ: "DateTime", in: `"2024-01-02 23:59:60"`, errSub: "expected DateTime"},
		{typ: "DateTime", in: `"2024-01-02T03:04:05+0200"`, errSub: "expected DateTime"},
		{typ: "DateTime", in: `"2024-01-02T03:04:05+24:00"`, errSub: "expected DateTime"},
		{typ: "DateTime", in: `"2024-01-02T03:04:05."`, errSub: "expected DateTime"},
		{typ: "DateTime", in: `"2024-01-02T03:04:05 "`, errSub: "expected DateTime"},
		{typ: "DateTime", in: `"2024-01-02"`, errSub: "expected DateTime"},
		{typ: "DateTime", in: `1704164645`, errSub: "expected DateTime"},
		{typ: "DateTime64(3)", in: `"2024-01-02T03:04:05.123456Z"`, want: `"2024-01-02 03:04:05.123"`},
		{typ: "DateTime64(3)", in: `"2024-01-02 03:04:05"`, want: `"2024-01-02 03:04:05.000"`},
		{typ: "DateTime64(3)", in: `"2024-01-02T03:04:05.5-01:00"`, want: `"2024-01-02 04:04:05.500"`},
		{typ: "DateTime64(6)", in: `"1950-06-15T12:00:00.000001Z"`, want: `"1950-06-15 12:00:00.000001"`},
		{typ: "DateTime64(9)", in: `"2024-01-02T03:04:05.123456789123Z"`, want: `"2024-01-02 03:04:05.123456789"`},
		{typ: "DateTime64(0)", in: `"2024-01-02T03:04:05.9Z"`, want: `"2024-01-02 03:04:05"`},
		{typ: "DateTime64(3)", in: `"1899-12-31 23:59:59"`, errSub: "DateTime64(3) out of range 1900-01-01 00:00:00..2299-12-31 23:59:59 (UTC)"},
		{typ: "DateTime64(3)", in: `"2300-01-01 00:00:00"`, errSub: "DateTime64(3) out of range"},
		{typ: "DateTime64(3)", in: `"soon"`, errSub: `expected DateTime64(3) (RFC 3339 or "YYYY-MM-DD hh:mm:ss"), got "soon"`},

		// UUID
		{typ: "UUID", in: `"6F9619FF-8B86-D011-B42D-00C04FC964FF"`, want: `"6f9619ff-8b86-d011-b42d-00c04fc964ff"`},
		{typ: "UUID", in: `"00000000-0000-0000-0000-000000000000"`, want: `"00000000-0000-0000-0000-000000000000"`},
		{typ: "UUID", in: `"6F9619FF8B86D011B42D00C04FC964FF"`, errSub: "expected UUID (8-4-4-4-12 hex digits)"},
		{typ: "UUID", in: `"{6F9619FF-8B86-D011-B42D-00C04FC964FF}"`, errSub: "expected UUID"},
		{typ: "UUID", in: `"6F9619FG-8B86-D011-B42D-00C04FC964FF"`, errSub: "expected UUID"},

		// Decimal
		{typ: "Decimal(10, 2)", in: `123.45`, want: `123.45`},
		{typ: "Decimal(10, 2)", in: `"123.45"`, want: `123.45`},
		{typ: "Decimal(10, 2)", in: `"-0012.50"`, want: `-12.5`},
		{typ: "Decimal(10, 2)", in: `12345678`, want: `12345678`},
		{typ: "Decimal(10, 2)", in: `123456789`, errSub: "expected Decimal(10, 2) (a number or numeric string with at most 8 integer and 2 fraction digits): too many integer digits, got 123456789"},
		{typ: "Decimal(10, 2)", in: `1.234`, errSub: "too many fraction digits, got 1.234"},
		{typ: "Decimal(10, 2)", in: `1.230`, want: `1.23`},
		{typ: "Decimal(10, 2)", in: `1.5e2`, want: `150`},
		{typ: "Decimal(10, 2)", in: `15e-3`, errSub: "too many fraction digits"},
		{typ: "Decimal(10, 2)", in: `5e-2`, want: `0.05`},
		{typ: "Decimal(10, 2)", in: `-0.00`, want: `0`},
		{typ: "Decimal(10, 2)", in: `0`, want: `0`},
		{typ: "Decimal(10, 2)", in: `"abc"`, errSub: `expected Decimal(10, 2)`},
		{typ: "Decimal(10, 2)", in: `"1.5 "`, errSub: `expected Decimal(10, 2)`},
		{typ: "Decimal(10, 2)", in: `""`, errSub: `expected Decimal(10, 2)`},
		{typ: "Decimal(10, 2)", in: `"+1"`, errSub: `expected Decimal(10, 2)`},
		{typ: "Decimal(10, 2)", in: `true`, errSub: `expected Decimal(10, 2)`},
		{typ: "Decimal(76, 0)", in: `"` + strings.Repeat("9", 76) + `"`, want: strings.Repeat("9", 76)},
		{typ: "Decimal(76, 0)", in: `"1` + strings.Repeat("0", 76) + `"`, errSub: "too many integer digits"},
		{typ: "Decimal(3, 3)", in: `0.999`, want: `0.999`},
		{typ: "Decimal(3, 3)", in: `1.5`, errSub: "too many integer digits"},

		// Array
		{typ: "Array(String)", in: `["a", "b"]`, want: `["a","b"]`},
		{typ: "Array(String)", in: `[]`, want: `[]`},
		{typ: "Array(String)", in: `[ ]`, want: `[]`},
		{typ: "Array(UInt8)", in: `[1, 2, 300]`, errSub: `field "v": element 2: expected UInt8 (0..255), got 300`},
		{typ: "Array(String)", in: `["a", null]`, errSub: "element 1: expected String (a JSON string), got null"},
		{typ: "Array(String)", in: `"a"`, errSub: `expected Array(String) (a JSON array), got "a"`},
		{typ: "Array(Array(Int32))", in: `[[1, 2], [], [-3]]`, want: `[[1,2],[],[-3]]`},
		{typ: "Array(Array(Int32))", in: `[[1], [2, "x"]]`, errSub: `element 1: element 1: expected Int32 (-2147483648..2147483647), got "x"`},
		{typ: "Array(DateTime)", in: `["2024-01-02T03:04:05+01:00"]`, want: `["2024-01-02 02:04:05"]`},
		{typ: "Array(Decimal(5, 1))", in: `["1.5", 2]`, want: `[1.5,2]`},
		{typ: "Array(LowCardinality(String))", in: `["x"]`, want: `["x"]`},
		{typ: "Array(Bool)", in: `[true,false]`, want: `[true,false]`},
		{typ: "Array(UUID)", in: `["6F9619FF-8B86-D011-B42D-00C04FC964FF"]`, want: `["6f9619ff-8b86-d011-b42d-00c04fc964ff"]`},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.in, func(t *testing.T) {
			e := newEnc(t, &project.Model{Name: "M", Columns: []project.Column{col("v", tt.typ)}})
			body := `{"v": ` + tt.in + `}`
			out, n, err := e.Encode([]byte("keep"), []byte(body), nil)
			if tt.errSub != "" {
				var re *RecordError
				if !errors.As(err, &re) {
					t.Fatalf("Encode(%s) = %q, %v; want a *RecordError containing %q", body, out, err, tt.errSub)
				}
				if !strings.Contains(err.Error(), tt.errSub) || re.Index != 0 || re.Field != "v" {
					t.Errorf("error = %q (index %d, field %q); want record 0, field v, containing %q", err, re.Index, re.Field, tt.errSub)
				}
				if string(out) != "keep" || n != 0 {
					t.Errorf("on error: out = %q, n = %d; want dst unchanged and 0", out, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode(%s): %v", body, err)
			}
			if want := `keep{"v":` + tt.want + "}\n"; string(out) != want || n != 1 {
				t.Errorf("Encode(%s) = %q, %d; want %q, 1", body, out, n, want)
			}
		})
	}
}

func TestBoolAsInt(t *testing.T) {
	m := &project.Model{Name: "M", Columns: []project.Column{col("b", "Bool"), col("a", "Array(Bool)")}}
	got := mustEncode(t, newEnc(t, m, EncoderOptions{BoolAsInt: true}), `{"b":true,"a":[false,true]}`, nil)
	if want := `{"b":1,"a":[0,1]}` + "\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := NewEncoder(m, EncoderOptions{}, EncoderOptions{}); err == nil {
		t.Error("two EncoderOptions accepted")
	}
}

func pageView() *project.Model {
	return &project.Model{Name: "PageView", Columns: []project.Column{
		col("id", "String"),
		col("ts", "DateTime"),
		claimCol(col("user_id", "String"), "sub"),
		optional(col("duration_ms", "Float64")),
		optional(col("tags", "Array(String)")),
	}}
}

// TestRecords covers record-level rules: presence, nulls, unknown and
// duplicate fields, JWT claims, ordering of the output.
func TestRecords(t *testing.T) {
	sub := map[string]any{"sub": "user-1"}
	extra := pageView()
	extra.AllowExtraFields = true
	tests := []struct {
		name   string
		model  *project.Model
		body   string
		claims map[string]any
		want   string // output; "" with errSub
		errSub string
		index  int
		field  string
	}{
		{name: "fields in any order; output in column order", body: `{"ts":"2024-01-02 03:04:05","id":"a"}`, claims: sub,
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"user-1","duration_ms":null,"tags":null}` + "\n"},
		{name: "nullable given", body: `{"id":"a","ts":"2024-01-02 03:04:05","duration_ms":1.5,"tags":["x"]}`, claims: sub,
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"user-1","duration_ms":1.5,"tags":["x"]}` + "\n"},
		{name: "nullable null", body: `{"id":"a","ts":"2024-01-02 03:04:05","duration_ms":null}`, claims: sub,
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"user-1","duration_ms":null,"tags":null}` + "\n"},
		{name: "whitespace everywhere", body: " \t\r\n{ \"id\" : \"a\" ,\n\"ts\"\t:\"2024-01-02 03:04:05\" } \n", claims: sub,
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"user-1","duration_ms":null,"tags":null}` + "\n"},
		{name: "escaped key", body: `{"\u0069d":"a","ts":"2024-01-02 03:04:05"}`, claims: sub,
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"user-1","duration_ms":null,"tags":null}` + "\n"},
		{name: "required missing", body: `{"id":"a"}`, claims: sub, errSub: "required field is missing", field: "ts"},
		{name: "required null", body: `{"id":null,"ts":"2024-01-02 03:04:05"}`, claims: sub, errSub: "required field is null", field: "id"},
		{name: "unknown field", body: `{"id":"a","ts":"2024-01-02 03:04:05","color":"red"}`, claims: sub,
			errSub: "unknown field (the model has no such column; allow_extra_fields = true drops unknown fields)", field: "color"},
		{name: "field names are case-sensitive", body: `{"ID":"a","ts":"2024-01-02 03:04:05"}`, claims: sub, errSub: "unknown field", field: "ID"},
		{name: "duplicate key", body: `{"id":"a","ts":"2024-01-02 03:04:05","id":"b"}`, claims: sub, errSub: "duplicate key", field: "id"},
		{name: "duplicate key via escape", body: `{"id":"a","ts":"2024-01-02 03:04:05","\u0069d":"b"}`, claims: sub, errSub: "duplicate key", field: "id"},
		{name: "extra fields dropped", model: extra, body: `{"id":"a","color":{"deep":[1,{"x":null}]},"ts":"2024-01-02 03:04:05","n":1}`, claims: sub,
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"user-1","duration_ms":null,"tags":null}` + "\n"},
		{name: "duplicate extra field", model: extra, body: `{"id":"a","ts":"2024-01-02 03:04:05","n":1,"n":2}`, claims: sub,
			errSub: "duplicate key", field: "n"},
		{name: "extra fields still checked for syntax", model: extra, body: `{"id":"a","ts":"2024-01-02 03:04:05","n":[1,}`, claims: sub,
			errSub: "invalid JSON at byte offset", index: -1},
		{name: "claim sent by client", body: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"mallory"}`, claims: sub,
			errSub: "field is set from the verified token (jwt claim sub) and cannot be sent", field: "user_id"},
		{name: "claim sent as null", body: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":null}`, claims: sub,
			errSub: "field is set from the verified token (jwt claim sub) and cannot be sent", field: "user_id"},
		{name: "claim missing", body: `{"id":"a","ts":"2024-01-02 03:04:05"}`, claims: map[string]any{"iss": "x"},
			errSub: "missing JWT claim sub", field: "user_id"},
		{name: "no claims at all", body: `{"id":"a","ts":"2024-01-02 03:04:05"}`, claims: nil,
			errSub: "missing JWT claim sub", field: "user_id"},
		{name: "numeric claim into String", body: `{"id":"a","ts":"2024-01-02 03:04:05"}`, claims: map[string]any{"sub": 42.0},
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"42","duration_ms":null,"tags":null}` + "\n"},
		{name: "claim with quotes is escaped", body: `{"id":"a","ts":"2024-01-02 03:04:05"}`, claims: map[string]any{"sub": "a\"b\n"},
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"a\"b\n","duration_ms":null,"tags":null}` + "\n"},
		{name: "empty object", body: `{}`, claims: sub, errSub: "required field is missing", field: "id"},
		{name: "empty array", body: `[]`, want: ""},
		{name: "empty array with spaces", body: " [ \n ] ", want: ""},
		{name: "array of records", body: `[{"id":"a","ts":"2024-01-02 03:04:05"},{"id":"b","ts":"2024-01-02 03:04:06"}]`, claims: sub,
			want: `{"id":"a","ts":"2024-01-02 03:04:05","user_id":"user-1","duration_ms":null,"tags":null}` + "\n" +
				`{"id":"b","ts":"2024-01-02 03:04:06","user_id":"user-1","duration_ms":null,"tags":null}` + "\n"},
		{name: "second record bad", body: `[{"id":"a","ts":"2024-01-02 03:04:05"},{"id":"b","ts":"nope"}]`, claims: sub,
			errSub: `record 1: field "ts": expected DateTime`, index: 1, field: "ts"},
		{name: "array of non-objects", body: `[{"id":"a","ts":"2024-01-02 03:04:05"}, 5]`, claims: sub,
			errSub: "record 1: expected a JSON object, got 5", index: 1},
		{name: "array of arrays", body: `[[]]`, errSub: "record 0: expected a JSON object, got []", index: 0},

		// Whole-body errors: index -1, byte offset.
		{name: "empty body", body: ``, errSub: "empty body", index: -1},
		{name: "blank body", body: " \n", errSub: "empty body", index: -1},
		{name: "scalar body", body: `"x"`, errSub: `body must be a JSON object or an array of objects, got "x"`, index: -1},
		{name: "null body", body: `null`, errSub: `body must be a JSON object or an array of objects, got null`, index: -1},
		{name: "trailing garbage", body: `{"id":"a","ts":"2024-01-02 03:04:05"} x`, claims: sub,
			errSub: "invalid JSON at byte offset 38: unexpected data after the JSON value", index: -1},
		{name: "two objects", body: `{"id":"a","ts":"2024-01-02 03:04:05"} {}`, claims: sub, errSub: "unexpected data after the JSON value", index: -1},
		{name: "trailing comma in object", body: `{"id":"a",}`, errSub: "invalid JSON at byte offset 10: expected a string key", index: -1},
		{name: "trailing comma in array", body: `[{"id":"a","ts":"2024-01-02 03:04:05"},]`, claims: sub, errSub: "invalid JSON at byte offset", index: -1},
		{name: "unterminated", body: `{"id":"a"`, errSub: "unexpected end of input in object", index: -1},
		{name: "unterminated string", body: `{"id":"a`, errSub: "unterminated string", index: -1},
		{name: "unterminated array", body: `[{"id":"a","ts":"2024-01-02 03:04:05"}`, claims: sub, errSub: "unexpected end of input in array", index: -1},
		{name: "single quotes", body: `{'id':'a'}`, errSub: "invalid JSON at byte offset 1", index: -1},
		{name: "bad escape", body: `{"id":"\x"}`, errSub: "invalid escape", index: -1},
		{name: "bad unicode escape", body: `{"id":"\u12G4"}`, errSub: `invalid \u escape`, index: -1},
		{name: "lone high surrogate", body: `{"id":"\ud800"}`, errSub: "lone surrogate", index: -1},
		{name: "lone low surrogate", body: `{"id":"\udc00x"}`, errSub: "lone surrogate", index: -1},
		{name: "raw control char", body: "{\"id\":\"a\tb\"}", errSub: "control character in string", index: -1},
		{name: "invalid UTF-8", body: "{\"id\":\"a\xffb\"}", errSub: "invalid UTF-8 in string", index: -1},
		{name: "invalid UTF-8 in key", body: "{\"i\xc3\":\"a\"}", errSub: "invalid UTF-8 in string", index: -1},
		{name: "UTF-8 surrogate bytes", body: "{\"id\":\"\xed\xa0\x80\"}", errSub: "invalid UTF-8", index: -1},
		{name: "leading zero", body: `{"duration_ms":01}`, errSub: "invalid JSON", index: -1},
		{name: "bare minus", body: `{"duration_ms":-}`, errSub: "invalid number", index: -1},
		{name: "dot without digits", body: `{"duration_ms":1.}`, errSub: "invalid number", index: -1},
		{name: "exponent without digits", body: `{"duration_ms":1e}`, errSub: "invalid number", index: -1},
		{name: "NaN", body: `{"duration_ms":NaN}`, errSub: "unexpected character 'N'", index: -1},
		{name: "truncated literal", body: `{"duration_ms":nul}`, errSub: "invalid literal", index: -1},
		// Encode reports the first problem it meets; it does not read on.
		{name: "syntax error after a type error", body: `{"ts":"nope" "x"}`, errSub: "expected DateTime", field: "ts"},
		{name: "bad JSON inside a badly typed value", body: `{"ts":[1,]}`, errSub: "invalid JSON", index: -1},
		{name: "BOM", body: "\ufeff{}", errSub: "invalid JSON at byte offset 0", index: -1},
		{name: "too deep", model: extra, body: `{"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
			errSub: "nesting deeper than 64", index: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.model
			if m == nil {
				m = pageView()
			}
			e := newEnc(t, m)
			out, n, err := e.Encode(nil, []byte(tt.body), tt.claims)
			if tt.errSub != "" {
				var re *RecordError
				if !errors.As(err, &re) {
					t.Fatalf("Encode = %q, %v; want a *RecordError containing %q", out, err, tt.errSub)
				}
				if !strings.Contains(err.Error(), tt.errSub) || re.Index != tt.index || re.Field != tt.field {
					t.Errorf("error = %q (index %d, field %q); want index %d, field %q, containing %q",
						err, re.Index, re.Field, tt.index, tt.field, tt.errSub)
				}
				if len(out) != 0 || n != 0 {
					t.Errorf("on error: out = %q, n = %d", out, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if string(out) != tt.want || n != strings.Count(tt.want, "\n") {
				t.Errorf("got %q (n=%d)\nwant %q", out, n, tt.want)
			}
		})
	}
}

func TestRecordErrorText(t *testing.T) {
	for _, tt := range []struct {
		err  RecordError
		want string
	}{
		{RecordError{Index: 3, Field: "ts", Reason: `expected DateTime (RFC 3339 or "YYYY-MM-DD hh:mm:ss"), got "yesterday"`},
			`record 3: field "ts": expected DateTime (RFC 3339 or "YYYY-MM-DD hh:mm:ss"), got "yesterday"`},
		{RecordError{Index: 1, Reason: "expected a JSON object, got 5"}, "record 1: expected a JSON object, got 5"},
		{RecordError{Index: -1, Reason: "invalid JSON at byte offset 3: x"}, "invalid JSON at byte offset 3: x"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestClaimTypes(t *testing.T) {
	m := &project.Model{Name: "M", Columns: []project.Column{
		col("x", "String"),
		claimCol(col("org", "UUID"), "org_id"),
		claimCol(col("iat", "DateTime"), "iat"),
		claimCol(col("level", "UInt8"), "level"),
		claimCol(col("roles", "Array(String)"), "roles"),
		claimCol(col("admin", "Bool"), "admin"),
		claimCol(optional(col("team", "String")), "team"),
	}}
	e := newEnc(t, m)
	claims := map[string]any{
		"org_id": "6F9619FF-8B86-D011-B42D-00C04FC964FF", "iat": 1704164645.0, "level": 3.0,
		"roles": []any{"a", "b"}, "admin": true, "team": nil,
	}
	got := mustEncode(t, e, `[{"x":"1"},{"x":"2"}]`, claims)
	line := `"org":"6f9619ff-8b86-d011-b42d-00c04fc964ff","iat":"2024-01-02 03:04:05","level":3,"roles":["a","b"],"admin":true,"team":null}` + "\n"
	if want := `{"x":"1",` + line + `{"x":"2",` + line; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	claims["level"] = 300.0
	_, _, err := e.Encode(nil, []byte(`{"x":"1"}`), claims)
	var re *RecordError
	if !errors.As(err, &re) || re.Field != "level" || !strings.Contains(re.Reason, "JWT claim level: expected UInt8 (0..255), got 300") {
		t.Errorf("err = %v", err)
	}
	claims["level"] = 3.0
	claims["org_id"] = "not-a-uuid"
	if _, _, err := e.Encode(nil, []byte(`{"x":"1"}`), claims); err == nil || !strings.Contains(err.Error(), `JWT claim org_id: expected UUID`) {
		t.Errorf("err = %v", err)
	}
	// An empty array needs no claims.
	if _, n, err := e.Encode(nil, []byte(`[]`), nil); err != nil || n != 0 {
		t.Errorf("empty array without claims: %d, %v", n, err)
	}
}

func TestEncodeEach(t *testing.T) {
	m := pageView()
	e := newEnc(t, m)
	sub := map[string]any{"sub": "u"}
	body := `[{"id":"a","ts":"2024-01-02 03:04:05"}, {"id":"b","ts":"bad","zzz":1} ,7,{"id":"c","ts":"2024-01-02 03:04:05","id":"d"},{"id":"e","ts":"2024-01-02 03:04:05"}]`
	type rej struct {
		index int
		raw   string
		err   string
	}
	var got []rej
	out, n, err := e.EncodeEach([]byte("x"), []byte(body), sub, func(i int, raw []byte, re *RecordError) {
		got = append(got, rej{i, string(raw), re.Error()})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []rej{
		{1, `{"id":"b","ts":"bad","zzz":1}`, `record 1: field "ts": expected DateTime (RFC 3339 or "YYYY-MM-DD hh:mm:ss"), got "bad"`},
		{2, `7`, `record 2: expected a JSON object, got 7`},
		{3, `{"id":"c","ts":"2024-01-02 03:04:05","id":"d"}`, `record 3: field "id": duplicate key`},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rejects:\n got %v\nwant %v", got, want)
	}
	if n != 2 || string(out) != `x{"id":"a","ts":"2024-01-02 03:04:05","user_id":"u","duration_ms":null,"tags":null}`+"\n"+
		`{"id":"e","ts":"2024-01-02 03:04:05","user_id":"u","duration_ms":null,"tags":null}`+"\n" {
		t.Errorf("out = %q, n = %d", out, n)
	}

	// A single bad object is rejected, not an error.
	got = nil
	out, n, err = e.EncodeEach(nil, []byte(`{"id":1}`), sub, func(i int, raw []byte, re *RecordError) {
		got = append(got, rej{i, string(raw), re.Error()})
	})
	if err != nil || n != 0 || len(out) != 0 || len(got) != 1 || got[0].index != 0 {
		t.Errorf("single bad object: %q %d %v %v", out, n, err, got)
	}

	// Invalid JSON anywhere: an error and no rejects at all.
	calls := 0
	_, _, err = e.EncodeEach(nil, []byte(`[{"id":1},{"id":"a"`), sub, func(int, []byte, *RecordError) { calls++ })
	var re *RecordError
	if !errors.As(err, &re) || re.Index != -1 || calls != 0 {
		t.Errorf("invalid JSON: err = %v, calls = %d", err, calls)
	}
	// A missing claim is the request's fault: an error, not a reject.
	calls = 0
	_, _, err = e.EncodeEach(nil, []byte(`[{"id":"a","ts":"2024-01-02 03:04:05"}]`), nil, func(int, []byte, *RecordError) { calls++ })
	if err == nil || !strings.Contains(err.Error(), "missing JWT claim sub") || calls != 0 {
		t.Errorf("missing claim: err = %v, calls = %d", err, calls)
	}
}

// TestBatchWithOneBadRecord: 1,000 records, one bad: Encode names it and
// stores nothing.
func TestBatchWithOneBadRecord(t *testing.T) {
	e := newEnc(t, benchModel())
	body := benchBody(1000)
	out, n, err := e.Encode(nil, body, nil)
	if err != nil || n != 1000 || bytes.Count(out, []byte("\n")) != 1000 {
		t.Fatalf("good batch: n = %d, err = %v", n, err)
	}
	bad := bytes.Replace(body, []byte(`"id":"evt-000737"`), []byte(`"id":737`), 1)
	out, n, err = e.Encode(out[:0], bad, nil)
	var re *RecordError
	if !errors.As(err, &re) || re.Index != 737 || re.Field != "id" || n != 0 || len(out) != 0 {
		t.Fatalf("bad batch: err = %v, n = %d, len(out) = %d", err, n, len(out))
	}
	if want := `record 737: field "id": expected String (a JSON string), got 737`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// TestGolden encodes testdata/record_input.json for the model in
// testdata/record_model.json and compares with record_output.jsonl.
func TestGolden(t *testing.T) {
	var m project.Model
	data, err := os.ReadFile("testdata/record_model.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile("testdata/record_input.json")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := newEnc(t, &m).Encode(nil, in, map[string]any{"sub": "user-42"})
	if err != nil {
		t.Fatal(err)
	}
	const path = "testdata/record_output.jsonl"
	if *updateRecord {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update-record)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from %s (run go test -update-record after reviewing):\n%s", path, out)
	}
	checkLines(t, &m, out)
}

// checkLines asserts that every line is a JSON object with exactly the
// model's columns as keys, in column order.
func checkLines(t *testing.T, m *project.Model, out []byte) {
	t.Helper()
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Fatalf("output does not end in a newline: %q", out)
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		if len(out) == 0 {
			break
		}
		if !json.Valid(line) {
			t.Fatalf("invalid JSON line: %q", line)
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		for k := 0; dec.More(); k++ {
			key, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			if k >= len(m.Columns) || key != m.Columns[k].Name {
				t.Fatalf("line %q: key %d is %v", line, k, key)
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if k == len(m.Columns)-1 && dec.More() {
				t.Fatalf("line %q has extra keys", line)
			}
		}
	}
}

func TestNewEncoderRejectsBadModel(t *testing.T) {
	if _, err := NewEncoder(&project.Model{Name: "M", Columns: []project.Column{col("a", "Strin")}}); err == nil {
		t.Error("bad type accepted")
	}
	if _, err := NewEncoder(&project.Model{Name: "M", Columns: []project.Column{col("a", "String"), col("a", "Int8")}}); err == nil {
		t.Error("duplicate column accepted")
	}
}

func TestConcurrentUse(t *testing.T) {
	e := newEnc(t, benchModel())
	body := benchBody(50)
	want, _, err := e.Encode(nil, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	for g := 0; g < 4; g++ {
		go func() {
			var out []byte
			for range 20 {
				out, _, _ = e.Encode(out[:0], body, nil)
			}
			done <- out
		}()
	}
	for range 4 {
		if got := <-done; !bytes.Equal(got, want) {
			t.Error("concurrent output differs")
		}
	}
}
