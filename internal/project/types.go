package project

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the base of a column or parameter type.
type Kind uint8

// The kinds of SPEC section 1. The zero Kind is invalid.
const (
	KindInvalid Kind = iota
	KindString
	KindInt8
	KindInt16
	KindInt32
	KindInt64
	KindUInt8
	KindUInt16
	KindUInt32
	KindUInt64
	KindFloat32
	KindFloat64
	KindBool
	KindDate
	KindDateTime
	KindDateTime64     // Precision = fractional digits, 0..9
	KindUUID           //
	KindDecimal        // Precision = P (1..76), Scale = S (0..P)
	KindArray          // Elem = element type
	KindLowCardinality // Elem = String (the only element allowed)
)

var kindNames = [...]string{
	KindString: "String", KindInt8: "Int8", KindInt16: "Int16", KindInt32: "Int32", KindInt64: "Int64",
	KindUInt8: "UInt8", KindUInt16: "UInt16", KindUInt32: "UInt32", KindUInt64: "UInt64",
	KindFloat32: "Float32", KindFloat64: "Float64", KindBool: "Bool", KindDate: "Date",
	KindDateTime: "DateTime", KindDateTime64: "DateTime64", KindUUID: "UUID", KindDecimal: "Decimal",
	KindArray: "Array", KindLowCardinality: "LowCardinality",
}

// String is the kind's ClickHouse name ("Int32", "Decimal", "Array").
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Invalid"
}

// IsInteger reports whether k is one of Int8..Int64, UInt8..UInt64.
func (k Kind) IsInteger() bool { return k >= KindInt8 && k <= KindUInt64 }

// IsSigned reports whether k is one of Int8..Int64.
func (k Kind) IsSigned() bool { return k >= KindInt8 && k <= KindInt64 }

// Bits is the width of an integer kind (8, 16, 32, 64), else 0.
func (k Kind) Bits() int {
	switch k {
	case KindInt8, KindUInt8:
		return 8
	case KindInt16, KindUInt16:
		return 16
	case KindInt32, KindUInt32:
		return 32
	case KindInt64, KindUInt64:
		return 64
	}
	return 0
}

// IsNumeric reports whether values of k are numbers (integers, floats, decimals).
func (k Kind) IsNumeric() bool {
	return k.IsInteger() || k == KindFloat32 || k == KindFloat64 || k == KindDecimal
}

// Type is a parsed column or parameter type. Nullable is not part of it: it
// comes from a column's required = false.
type Type struct {
	Kind      Kind
	Precision int   // DateTime64: fractional digits; Decimal: P
	Scale     int   // Decimal: S
	Elem      *Type // Array and LowCardinality: the element type
}

// String is the canonical spelling, as ClickHouse prints it in
// system.columns: "Decimal(10, 2)", "DateTime64(3)", "Array(String)".
func (t Type) String() string {
	switch t.Kind {
	case KindDateTime64:
		return "DateTime64(" + strconv.Itoa(t.Precision) + ")"
	case KindDecimal:
		return "Decimal(" + strconv.Itoa(t.Precision) + ", " + strconv.Itoa(t.Scale) + ")"
	case KindArray, KindLowCardinality:
		elem := "?"
		if t.Elem != nil {
			elem = t.Elem.String()
		}
		return t.Kind.String() + "(" + elem + ")"
	}
	return t.Kind.String()
}

var simpleKinds = map[string]Kind{
	"String": KindString, "Int8": KindInt8, "Int16": KindInt16, "Int32": KindInt32, "Int64": KindInt64,
	"UInt8": KindUInt8, "UInt16": KindUInt16, "UInt32": KindUInt32, "UInt64": KindUInt64,
	"Float32": KindFloat32, "Float64": KindFloat64, "Bool": KindBool, "Date": KindDate,
	"DateTime": KindDateTime, "UUID": KindUUID,
}

// maxTypeDepth bounds Array nesting in a type.
const maxTypeDepth = 16

// ParseType parses a type of SPEC section 1: String, Int8..Int64,
// UInt8..UInt64, Float32, Float64, Bool, Date, DateTime, DateTime64(p)
// (p 0..9), UUID, Decimal(P, S) (1 <= P <= 76, 0 <= S <= P), Array(T) and
// LowCardinality(String). Names are case-sensitive; spaces around
// parentheses and commas are allowed. Nullable is not accepted: a column is
// Nullable when it is not required.
func ParseType(s string) (Type, error) {
	p := typeParser{s: s}
	t, err := p.parse(0)
	if err != nil {
		return Type{}, fmt.Errorf("type %q: %w", s, err)
	}
	p.space()
	if p.i != len(s) {
		return Type{}, fmt.Errorf("type %q: unexpected %q after %s", s, s[p.i:], t)
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *typeParser) ident() string {
	p.space()
	j := p.i
	for p.i < len(p.s) && (isIdentByte(p.s[p.i]) || (p.i > j && p.s[p.i] >= '0' && p.s[p.i] <= '9')) {
		p.i++
	}
	return p.s[j:p.i]
}

func (p *typeParser) expect(c byte) error {
	p.space()
	if p.i >= len(p.s) {
		return fmt.Errorf("missing %q", c)
	}
	if p.s[p.i] != c {
		return fmt.Errorf("expected %q at %q", c, p.s[p.i:])
	}
	p.i++
	return nil
}

func (p *typeParser) number() (int, error) {
	p.space()
	j := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if j == p.i {
		if p.i >= len(p.s) {
			return 0, errors.New("missing a number")
		}
		return 0, fmt.Errorf("expected a number at %q", p.s[p.i:])
	}
	if p.i-j > 3 {
		return 0, fmt.Errorf("number %s out of range", p.s[j:p.i])
	}
	n, _ := strconv.Atoi(p.s[j:p.i])
	return n, nil
}

func (p *typeParser) parse(depth int) (Type, error) {
	if depth > maxTypeDepth {
		return Type{}, fmt.Errorf("nested deeper than %d", maxTypeDepth)
	}
	name := p.ident()
	if name == "" {
		if p.i >= len(p.s) {
			return Type{}, errors.New("missing a type name")
		}
		return Type{}, fmt.Errorf("expected a type name at %q", p.s[p.i:])
	}
	if k, ok := simpleKinds[name]; ok {
		return Type{Kind: k}, nil
	}
	switch name {
	case "DateTime64":
		if err := p.expect('('); err != nil {
			return Type{}, fmt.Errorf("DateTime64: %w", err)
		}
		prec, err := p.number()
		if err != nil {
			return Type{}, fmt.Errorf("DateTime64 precision: %w", err)
		}
		if prec > 9 {
			return Type{}, fmt.Errorf("DateTime64 precision %d out of range 0..9", prec)
		}
		if err := p.expect(')'); err != nil {
			return Type{}, fmt.Errorf("DateTime64: %w", err)
		}
		return Type{Kind: KindDateTime64, Precision: prec}, nil
	case "Decimal":
		if err := p.expect('('); err != nil {
			return Type{}, fmt.Errorf("Decimal: %w", err)
		}
		prec, err := p.number()
		if err != nil {
			return Type{}, fmt.Errorf("Decimal precision: %w", err)
		}
		if err := p.expect(','); err != nil {
			return Type{}, fmt.Errorf("Decimal(P, S): %w", err)
		}
		scale, err := p.number()
		if err != nil {
			return Type{}, fmt.Errorf("Decimal scale: %w", err)
		}
		if err := p.expect(')'); err != nil {
			return Type{}, fmt.Errorf("Decimal: %w", err)
		}
		if prec < 1 || prec > 76 {
			return Type{}, fmt.Errorf("Decimal precision %d out of range 1..76", prec)
		}
		if scale > prec {
			return Type{}, fmt.Errorf("Decimal scale %d greater than precision %d", scale, prec)
		}
		return Type{Kind: KindDecimal, Precision: prec, Scale: scale}, nil
	case "Array":
		if err := p.expect('('); err != nil {
			return Type{}, fmt.Errorf("Array: %w", err)
		}
		elem, err := p.parse(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(')'); err != nil {
			return Type{}, fmt.Errorf("Array: %w", err)
		}
		return Type{Kind: KindArray, Elem: &elem}, nil
	case "LowCardinality":
		if err := p.expect('('); err != nil {
			return Type{}, fmt.Errorf("LowCardinality: %w", err)
		}
		elem, err := p.parse(depth + 1)
		if err != nil {
			return Type{}, err
		}
		if elem.Kind != KindString {
			return Type{}, fmt.Errorf("LowCardinality(%s) is not supported: only LowCardinality(String)", elem)
		}
		if err := p.expect(')'); err != nil {
			return Type{}, fmt.Errorf("LowCardinality: %w", err)
		}
		return Type{Kind: KindLowCardinality, Elem: &elem}, nil
	case "Nullable":
		return Type{}, errors.New("Nullable(T) is not a column type here: declare the column with required = false")
	}
	for known := range simpleKinds {
		if strings.EqualFold(known, name) {
			return Type{}, fmt.Errorf("unknown type %q (did you mean %q?)", name, known)
		}
	}
	for _, known := range []string{"DateTime64", "Decimal", "Array", "LowCardinality"} {
		if strings.EqualFold(known, name) {
			return Type{}, fmt.Errorf("unknown type %q (did you mean %q?)", name, known)
		}
	}
	return Type{}, fmt.Errorf("unknown type %q", name)
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// ParseValue parses the text form of a value of type t, as an API
// parameter arrives in a query string or a default/min/max in a project
// file, into the Go value that olap.Param documents: string (String,
// LowCardinality(String), UUID lowercased, Decimal as normalized digits),
// int64 (Int*), uint64 (UInt*), float64, bool ("true"/"false"/"1"/"0"),
// time.Time in UTC (Date, DateTime, DateTime64; RFC 3339 or
// "YYYY-MM-DD hh:mm:ss[.fff]" taken as UTC), or []any for Array(T), whose
// text is a JSON array ([1,2] or ["a","b"]).
func (t Type) ParseValue(s string) (any, error) {
	switch t.Kind {
	case KindString, KindLowCardinality:
		if !utf8.ValidString(s) {
			return nil, errors.New("invalid UTF-8")
		}
		return s, nil
	case KindInt8, KindInt16, KindInt32, KindInt64:
		v, err := strconv.ParseInt(s, 10, t.Kind.Bits())
		if err != nil {
			return nil, fmt.Errorf("expected %s (%d..%d), got %q", t, intMin(t.Kind), intMax(t.Kind), s)
		}
		return v, nil
	case KindUInt8, KindUInt16, KindUInt32, KindUInt64:
		v, err := strconv.ParseUint(s, 10, t.Kind.Bits())
		if err != nil {
			return nil, fmt.Errorf("expected %s (0..%d), got %q", t, uintMax(t.Kind), s)
		}
		return v, nil
	case KindFloat32, KindFloat64:
		bits := 64
		if t.Kind == KindFloat32 {
			bits = 32
		}
		v, err := strconv.ParseFloat(s, bits)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("expected %s, got %q", t, s)
		}
		return v, nil
	case KindBool:
		switch s {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("expected Bool (true, false, 1 or 0), got %q", s)
	case KindDate:
		tm, err := time.Parse("2006-01-02", s)
		if err != nil || tm.Before(minDate) || tm.After(maxDate) {
			return nil, fmt.Errorf("expected Date (YYYY-MM-DD, 1970-01-01..2149-06-06), got %q", s)
		}
		return tm, nil
	case KindDateTime, KindDateTime64:
		tm, ok := parseTime(s)
		lo, hi := minDateTime, maxDateTime
		if t.Kind == KindDateTime64 {
			lo, hi = minDateTime64, maxDateTime64
		}
		if !ok {
			return nil, fmt.Errorf(`expected %s (RFC 3339 or "YYYY-MM-DD hh:mm:ss"), got %q`, t, s)
		}
		if tm.Before(lo) || tm.After(hi) {
			return nil, fmt.Errorf("%s out of range %s..%s, got %q", t,
				lo.Format(time.DateTime), hi.Format(time.DateTime), s)
		}
		if t.Kind == KindDateTime {
			tm = tm.Truncate(time.Second)
		} else {
			tm = tm.Truncate(time.Duration(math.Pow10(9 - t.Precision)))
		}
		return tm, nil
	case KindUUID:
		if !IsUUID(s) {
			return nil, fmt.Errorf("expected UUID (8-4-4-4-12 hex digits), got %q", s)
		}
		return strings.ToLower(s), nil
	case KindDecimal:
		d, ok := normalizeDecimal(s, t.Precision, t.Scale)
		if !ok {
			return nil, fmt.Errorf("expected %s (at most %d integer and %d fraction digits), got %q",
				t, t.Precision-t.Scale, t.Scale, s)
		}
		return d, nil
	case KindArray:
		var raw []json.RawMessage
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return nil, fmt.Errorf("expected %s as a JSON array, got %q", t, s)
		}
		out := make([]any, len(raw))
		for i, r := range raw {
			text := string(r)
			if r[0] == '"' {
				if err := json.Unmarshal(r, &text); err != nil {
					return nil, fmt.Errorf("element %d: %w", i, err)
				}
			} else if r[0] == '[' && t.Elem.Kind != KindArray || r[0] == '{' || text == "null" {
				return nil, fmt.Errorf("element %d: expected %s, got %s", i, t.Elem, text)
			}
			v, err := t.Elem.ParseValue(text)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("invalid type %s", t)
}

var (
	minDate       = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate       = time.Date(2149, 6, 6, 0, 0, 0, 0, time.UTC)
	minDateTime   = minDate
	maxDateTime   = time.Date(2106, 2, 7, 6, 28, 15, 0, time.UTC)
	minDateTime64 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDateTime64 = time.Date(2299, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm.UTC(), true
		}
	}
	return time.Time{}, false
}

func intMin(k Kind) int64 { return -1 << (k.Bits() - 1) }
func intMax(k Kind) int64 { return 1<<(k.Bits()-1) - 1 }
func uintMax(k Kind) uint64 {
	if k.Bits() == 64 {
		return math.MaxUint64
	}
	return 1<<k.Bits() - 1
}

// IsUUID reports whether s is a UUID in the canonical 8-4-4-4-12 hex form.
func IsUUID[T string | []byte](s T) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// normalizeDecimal checks that s is a decimal number (JSON number grammar)
// with at most p-sc integer digits and sc fraction digits (leading integer
// zeros and trailing fraction zeros do not count) and returns it without
// them: "-0012.50" -> "-12.5".
func normalizeDecimal(s string, p, sc int) (string, bool) {
	if !decimalText(s) {
		return "", false
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	mant, exps, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	exp := 0
	if exps != "" {
		e, err := strconv.Atoi(exps)
		if err != nil || e > 1000 || e < -1000 {
			if strings.Trim(digits, "0") == "" {
				e = 0
			} else {
				return "", false
			}
		}
		exp = e
	}
	point := len(intPart) + exp
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
		point--
	}
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return "0", true
	}
	nInt, nFrac := max(point, 0), max(len(digits)-point, 0)
	if nInt > p-sc || nFrac > sc {
		return "", false
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case point <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -point))
		b.WriteString(digits)
	case point >= len(digits):
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", point-len(digits)))
	default:
		b.WriteString(digits[:point])
		b.WriteByte('.')
		b.WriteString(digits[point:])
	}
	return b.String(), true
}

// jsonNumber reports whether s follows the JSON number grammar.
func jsonNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}

// decimalText reports whether s is -?digits[.digits][(e|E)[+-]digits]:
// the JSON number grammar, except that leading zeros are allowed.
func decimalText(s string) bool {
	t := strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	if len(t) < len(strings.TrimPrefix(s, "-")) && (t == "" || t[0] < '1' || t[0] > '9') {
		t = "0" + t // keep one zero so that "0.5" and "00.5" stay numbers
	}
	return len(s) > 0 && jsonNumber(t)
}

// Compare orders two values that ParseValue returned for t (a scalar
// type): -1, 0 or +1. Decimals compare numerically.
func (t Type) Compare(a, b any) int { return compareValues(t.Kind, a, b) }

func compareValues(k Kind, a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case uint64:
		return cmp.Compare(x, b.(uint64))
	case float64:
		return cmp.Compare(x, b.(float64))
	case time.Time:
		return x.Compare(b.(time.Time))
	case string:
		if k == KindDecimal {
			ra, _ := new(big.Rat).SetString(x)
			rb, _ := new(big.Rat).SetString(b.(string))
			return ra.Cmp(rb)
		}
		return strings.Compare(x, b.(string))
	}
	return 0
}
