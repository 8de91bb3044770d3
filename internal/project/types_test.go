package project

import (
	"strings"
	"testing"
	"time"
)

func TestParseType(t *testing.T) {
	tests := []struct {
		in, want string // want "" with errSub: an error
		errSub   string
	}{
		{in: "String", want: "String"},
		{in: "Int8", want: "Int8"},
		{in: "Int16", want: "Int16"},
		{in: "Int32", want: "Int32"},
		{in: "Int64", want: "Int64"},
		{in: "UInt8", want: "UInt8"},
		{in: "UInt16", want: "UInt16"},
		{in: "UInt32", want: "UInt32"},
		{in: "UInt64", want: "UInt64"},
		{in: "Float32", want: "Float32"},
		{in: "Float64", want: "Float64"},
		{in: "Bool", want: "Bool"},
		{in: "Date", want: "Date"},
		{in: "DateTime", want: "DateTime"},
		{in: "DateTime64(3)", want: "DateTime64(3)"},
		{in: "DateTime64(0)", want: "DateTime64(0)"},
		{in: "DateTime64( 9 )", want: "DateTime64(9)"},
		{in: "UUID", want: "UUID"},
		{in: "Decimal(10,2)", want: "Decimal(10, 2)"},
		{in: " Decimal( 76 , 76 ) ", want: "Decimal(76, 76)"},
		{in: "Decimal(1, 0)", want: "Decimal(1, 0)"},
		{in: "Array(String)", want: "Array(String)"},
		{in: "Array(Array(Decimal(5,1)))", want: "Array(Array(Decimal(5, 1)))"},
		{in: "Array(LowCardinality(String))", want: "Array(LowCardinality(String))"},
		{in: "LowCardinality(String)", want: "LowCardinality(String)"},

		{in: "", errSub: "missing a type name"},
		{in: "string", errSub: `unknown type "string" (did you mean "String"?)`},
		{in: "Datetime64(3)", errSub: `did you mean "DateTime64"?`},
		{in: "Int", errSub: `unknown type "Int"`},
		{in: "Int128", errSub: `unknown type "Int128"`},
		{in: "DateTime64", errSub: `missing '('`},
		{in: "DateTime64(10)", errSub: "precision 10 out of range 0..9"},
		{in: "DateTime64(3, 'UTC')", errSub: `expected ')'`},
		{in: "Decimal(0, 0)", errSub: "precision 0 out of range 1..76"},
		{in: "Decimal(77, 0)", errSub: "precision 77 out of range"},
		{in: "Decimal(5, 6)", errSub: "scale 6 greater than precision 5"},
		{in: "Decimal(5)", errSub: `expected ','`},
		{in: "Decimal(-1, 0)", errSub: "expected a number"},
		{in: "Decimal(99999999999999999999, 0)", errSub: "out of range"},
		{in: "Array()", errSub: "expected a type name"},
		{in: "Array(String", errSub: `missing ')'`},
		{in: "Array(String))", errSub: `unexpected ")"`},
		{in: "LowCardinality(Int32)", errSub: "only LowCardinality(String)"},
		{in: "Nullable(String)", errSub: "required = false"},
		{in: "Array(Nullable(String))", errSub: "required = false"},
		{in: "String String", errSub: "unexpected"},
		{in: strings.Repeat("Array(", 20) + "String" + strings.Repeat(")", 20), errSub: "nested deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseType(tt.in)
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("ParseType(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseType(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("ParseType(%q) = %s, want %s", tt.in, got, tt.want)
			}
			again, err := ParseType(got.String())
			if err != nil || again.String() != got.String() {
				t.Errorf("canonical form does not round-trip: %v %v", again, err)
			}
		})
	}
}

func TestTypeFields(t *testing.T) {
	ty, err := ParseType("Array(Decimal(12, 4))")
	if err != nil {
		t.Fatal(err)
	}
	if ty.Kind != KindArray || ty.Elem == nil || ty.Elem.Kind != KindDecimal || ty.Elem.Precision != 12 || ty.Elem.Scale != 4 {
		t.Errorf("got %+v / %+v", ty, ty.Elem)
	}
	if !KindInt16.IsInteger() || !KindInt16.IsSigned() || KindUInt16.IsSigned() || KindUInt64.Bits() != 64 ||
		KindFloat32.IsInteger() || !KindDecimal.IsNumeric() || KindString.IsNumeric() {
		t.Error("kind predicates")
	}
}

func TestParseValue(t *testing.T) {
	utc := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339Nano, s); return tm.UTC() }
	tests := []struct {
		typ, in string
		want    any
		errSub  string
	}{
		{"String", "héllo", "héllo", ""},
		{"String", "\xff", nil, "invalid UTF-8"},
		{"LowCardinality(String)", "x", "x", ""},
		{"Int8", "-128", int64(-128), ""},
		{"Int8", "128", nil, "expected Int8 (-128..127)"},
		{"Int64", "-9223372036854775808", int64(-9223372036854775808), ""},
		{"UInt8", "255", uint64(255), ""},
		{"UInt8", "-1", nil, "expected UInt8 (0..255)"},
		{"UInt64", "18446744073709551615", uint64(18446744073709551615), ""},
		{"UInt64", "18446744073709551616", nil, "expected UInt64"},
		{"UInt32", "1.0", nil, "expected UInt32"},
		{"Float64", "1.5e3", 1500.0, ""},
		{"Float64", "NaN", nil, "expected Float64"},
		{"Float32", "1e39", nil, "expected Float32"},
		{"Bool", "true", true, ""},
		{"Bool", "0", false, ""},
		{"Bool", "yes", nil, "expected Bool"},
		{"Date", "2024-02-29", utc("2024-02-29T00:00:00Z"), ""},
		{"Date", "2023-02-29", nil, "expected Date"},
		{"Date", "1969-12-31", nil, "expected Date"},
		{"Date", "2149-06-07", nil, "expected Date"},
		{"DateTime", "2024-01-02 03:04:05", utc("2024-01-02T03:04:05Z"), ""},
		{"DateTime", "2024-01-02T03:04:05+02:00", utc("2024-01-02T01:04:05Z"), ""},
		{"DateTime", "2024-01-02T03:04:05.987Z", utc("2024-01-02T03:04:05Z"), ""},
		{"DateTime", "yesterday", nil, `expected DateTime (RFC 3339 or "YYYY-MM-DD hh:mm:ss")`},
		{"DateTime", "2106-02-07 06:28:16", nil, "out of range"},
		{"DateTime64(3)", "2024-01-02T03:04:05.123456Z", utc("2024-01-02T03:04:05.123Z"), ""},
		{"DateTime64(3)", "1950-01-01 00:00:00", utc("1950-01-01T00:00:00Z"), ""},
		{"UUID", "6F9619FF-8B86-D011-B42D-00C04FC964FF", "6f9619ff-8b86-d011-b42d-00c04fc964ff", ""},
		{"UUID", "6F9619FF8B86D011B42D00C04FC964FF", nil, "expected UUID"},
		{"Decimal(5, 2)", "-012.50", "-12.5", ""},
		{"Decimal(5, 2)", "123.45", "123.45", ""},
		{"Decimal(5, 2)", "1234.5", nil, "at most 3 integer and 2 fraction digits"},
		{"Decimal(5, 2)", "1.234", nil, "expected Decimal(5, 2)"},
		{"Decimal(5, 2)", "1.5e2", "150", ""},
		{"Decimal(5, 2)", "15e-2", "0.15", ""},
		{"Decimal(5, 2)", "0e999999999", "0", ""},
		{"Decimal(5, 2)", "1e999999999", nil, "expected Decimal"},
		{"Decimal(5, 2)", "-0.00", "0", ""},
		{"Decimal(5, 2)", ".5", nil, "expected Decimal"},
		{"Decimal(5, 2)", "+1", nil, "expected Decimal"},
		{"Array(UInt8)", "[1, 2]", []any{uint64(1), uint64(2)}, ""},
		{"Array(String)", `["a", "b\"c"]`, []any{"a", `b"c`}, ""},
		{"Array(Array(Int32))", `[[1],[]]`, []any{[]any{int64(1)}, []any{}}, ""},
		{"Array(String)", `[1]`, []any{"1"}, ""},
		{"Array(UInt8)", `[null]`, nil, "element 0"},
		{"Array(UInt8)", `1,2`, nil, "as a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.in, func(t *testing.T) {
			ty, err := ParseType(tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ty.ParseValue(tt.in)
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("ParseValue(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseValue(%q): %v", tt.in, err)
			}
			if !equalValues(got, tt.want) {
				t.Errorf("ParseValue(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func equalValues(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y) && x.Location() == time.UTC
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"String", "DateTime64(3)", "Decimal(10, 2)", "Array(Array(UInt8))",
		"LowCardinality(String)", "Nullable(Int8)", "Decimal(", "Array(", "Int64 ", "DateTime64(999)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1024 {
			return
		}
		ty, err := ParseType(s)
		if err != nil {
			return
		}
		canon := ty.String()
		again, err := ParseType(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, again.String())
		}
		if ty.Kind == KindDecimal && (ty.Precision < 1 || ty.Precision > 76 || ty.Scale > ty.Precision) {
			t.Fatalf("accepted %q", s)
		}
		if ty.Kind == KindDateTime64 && ty.Precision > 9 {
			t.Fatalf("accepted %q", s)
		}
	})
}
