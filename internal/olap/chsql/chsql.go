package chsql

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moose-go/moose/internal/olap"
)

// Dialect is what a ClickHouse version supports.
type Dialect struct {
	// Legacy is true for servers older than 19.x (Debian's 18.16): no Bool,
	// no DateTime64, no query parameters, LowCardinality only behind a
	// setting (rendered as String instead).
	Legacy bool
}

// Modern is the dialect of chDB 26.x and current ClickHouse servers.
var Modern = Dialect{}

// Legacy18 is the dialect of ClickHouse 18.16.
var Legacy18 = Dialect{Legacy: true}

// QuoteIdent quotes a name with backticks, escaping backslashes and backticks.
func QuoteIdent(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 2)
	b.WriteByte('`')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '`', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('`')
	return b.String()
}

// TableRef is db.table quoted; db may be empty.
func TableRef(db, table string) string {
	if db == "" {
		return QuoteIdent(table)
	}
	return QuoteIdent(db) + "." + QuoteIdent(table)
}

// ColumnType renders a column's type for d.
func (d Dialect) ColumnType(c olap.Column) (string, error) {
	t, err := d.Type(c.Type)
	if err != nil {
		return "", fmt.Errorf("column %s: %w", c.Name, err)
	}
	if c.Nullable {
		return "Nullable(" + t + ")", nil
	}
	return t, nil
}

// Type maps a project type to what the server accepts.
func (d Dialect) Type(t string) (string, error) {
	if !d.Legacy {
		return t, nil
	}
	switch {
	case t == "Bool":
		return "UInt8", nil
	case t == "LowCardinality(String)":
		return "String", nil
	case strings.HasPrefix(t, "DateTime64"):
		return "", fmt.Errorf("type %s is not supported by ClickHouse 18.16", t)
	case strings.HasPrefix(t, "Array(") && strings.HasSuffix(t, ")"):
		inner, err := d.Type(t[len("Array(") : len(t)-1])
		if err != nil {
			return "", err
		}
		return "Array(" + inner + ")", nil
	}
	return t, nil
}

// CreateTable renders CREATE TABLE IF NOT EXISTS for a MergeTree table.
func (d Dialect) CreateTable(db string, t olap.Table) (string, error) {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS ")
	b.WriteString(TableRef(db, t.Name))
	b.WriteString(" (")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		ct, err := d.ColumnType(c)
		if err != nil {
			return "", err
		}
		b.WriteString(QuoteIdent(c.Name))
		b.WriteByte(' ')
		b.WriteString(ct)
	}
	b.WriteString(") ENGINE = MergeTree() ORDER BY ")
	b.WriteString(OrderBy(t.OrderBy))
	return b.String(), nil
}

// OrderBy renders a sorting key; empty is tuple().
func OrderBy(cols []string) string {
	if len(cols) == 0 {
		return "tuple()"
	}
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = QuoteIdent(c)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// DDL renders the statement for one change.
func (d Dialect) DDL(db string, c olap.Change) (string, error) {
	ref := TableRef(db, c.Table.Name)
	switch c.Kind {
	case olap.CreateTable:
		return d.CreateTable(db, c.Table)
	case olap.DropTable:
		return "DROP TABLE IF EXISTS " + ref, nil
	case olap.AddColumn, olap.ModifyColumn:
		if c.Column == nil {
			return "", fmt.Errorf("%s on %s: no column", c.Kind, c.Table.Name)
		}
		ct, err := d.ColumnType(*c.Column)
		if err != nil {
			return "", err
		}
		if c.Kind == olap.ModifyColumn {
			return "ALTER TABLE " + ref + " MODIFY COLUMN " + QuoteIdent(c.Column.Name) + " " + ct, nil
		}
		s := "ALTER TABLE " + ref + " ADD COLUMN " + d.ifNotExists() + QuoteIdent(c.Column.Name) + " " + ct
		if c.After != "" {
			s += " AFTER " + QuoteIdent(c.After)
		}
		return s, nil
	case olap.DropColumn:
		if c.Column == nil {
			return "", fmt.Errorf("%s on %s: no column", c.Kind, c.Table.Name)
		}
		return "ALTER TABLE " + ref + " DROP COLUMN " + d.ifExists() + QuoteIdent(c.Column.Name), nil
	}
	return "", fmt.Errorf("unknown change kind %q", c.Kind)
}

// ifNotExists and ifExists guard column changes where the server has
// them; ClickHouse 18.16 rejects both, so its callers check first.
func (d Dialect) ifNotExists() string {
	if d.Legacy {
		return ""
	}
	return "IF NOT EXISTS "
}

func (d Dialect) ifExists() string {
	if d.Legacy {
		return ""
	}
	return "IF EXISTS "
}

// QuoteString renders s as a single-quoted ClickHouse string literal. Every
// byte that is not printable ASCII (and ', \) is escaped, so NUL, newlines
// and invalid UTF-8 stay data. Valid multi-byte UTF-8 passes through.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	appendEscaped(&b, s, true)
	b.WriteByte('\'')
	return b.String()
}

const hexDigits = "0123456789abcdef"

// appendEscaped writes s with ClickHouse backslash escapes. quote adds \'.
func appendEscaped(b *strings.Builder, s string, quote bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\'' && quote:
			b.WriteString(`\'`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		case c >= 0x80:
			// Keep valid UTF-8 sequences whole; escape stray bytes.
			n := utf8SeqLen(s[i:])
			if n == 0 {
				b.WriteString(`\x`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&15])
				i++
				continue
			}
			b.WriteString(s[i : i+n])
			i += n
			continue
		default:
			b.WriteByte(c)
		}
		i++
	}
}

// Literal renders a validated parameter value as a typed ClickHouse literal.
func (d Dialect) Literal(p olap.Param) (string, error) {
	return d.literal(p.Type, p.Value)
}

func (d Dialect) literal(typ string, v any) (string, error) {
	if v == nil {
		return "NULL", nil
	}
	base := typ
	if strings.HasPrefix(base, "Nullable(") && strings.HasSuffix(base, ")") {
		base = base[len("Nullable(") : len(base)-1]
	}
	if strings.HasPrefix(base, "Array(") && strings.HasSuffix(base, ")") {
		elem := base[len("Array(") : len(base)-1]
		vs, ok := v.([]any)
		if !ok {
			return "", fmt.Errorf("param of type %s: want a list, got %T", typ, v)
		}
		parts := make([]string, len(vs))
		for i, e := range vs {
			s, err := d.literal(elem, e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		st, err := d.Type(base)
		if err != nil {
			return "", err
		}
		return "CAST([" + strings.Join(parts, ", ") + "] AS " + st + ")", nil
	}
	text, err := scalarText(base, v)
	if err != nil {
		return "", fmt.Errorf("param of type %s: %w", typ, err)
	}
	switch {
	case base == "String" || base == "LowCardinality(String)":
		return QuoteString(text), nil
	case base == "Bool":
		if d.Legacy {
			if text == "true" {
				return "1", nil
			}
			return "0", nil
		}
		return text, nil
	case isNumber(base):
		st, _ := d.Type(base)
		return "CAST(" + QuoteString(text) + " AS " + st + ")", nil
	default:
		st, err := d.Type(base)
		if err != nil {
			return "", err
		}
		return "CAST(" + QuoteString(text) + " AS " + st + ")", nil
	}
}

func isNumber(t string) bool {
	return strings.HasPrefix(t, "Int") || strings.HasPrefix(t, "UInt") || strings.HasPrefix(t, "Float") ||
		strings.HasPrefix(t, "Decimal")
}

// scalarText is the plain text of a scalar value, as ClickHouse parses it.
func scalarText(base string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		x = x.UTC()
		switch {
		case base == "Date":
			return x.Format("2006-01-02"), nil
		case strings.HasPrefix(base, "DateTime64"):
			return x.Format("2006-01-02 15:04:05.000000000"), nil
		default:
			return x.Format("2006-01-02 15:04:05"), nil
		}
	}
	return "", fmt.Errorf("unsupported value type %T", v)
}

// ParamText is the text of a value for server-side parameter binding
// (param_<name> in ClickHouse HTTP, chdb_query_with_params): ClickHouse
// parses it in the "escaped" (TSV) format, so backslashes and control bytes
// are escaped; arrays use literal syntax.
func (d Dialect) ParamText(p olap.Param) (string, error) {
	base := p.Type
	if p.Value == nil {
		return `\N`, nil
	}
	if strings.HasPrefix(base, "Nullable(") && strings.HasSuffix(base, ")") {
		base = base[len("Nullable(") : len(base)-1]
	}
	if strings.HasPrefix(base, "Array(") {
		// An Array's text is its literal form: the elements are quoted and
		// escaped already, and the engine reads it without a second layer.
		return d.arrayText(base, p.Value)
	}
	text, err := scalarText(base, p.Value)
	if err != nil {
		return "", fmt.Errorf("param %s: %w", p.Name, err)
	}
	var b strings.Builder
	appendEscaped(&b, text, false)
	return b.String(), nil
}

func (d Dialect) arrayText(typ string, v any) (string, error) {
	elem := typ[len("Array(") : len(typ)-1]
	vs, ok := v.([]any)
	if !ok {
		return "", fmt.Errorf("param of type %s: want a list, got %T", typ, v)
	}
	parts := make([]string, len(vs))
	for i, e := range vs {
		if strings.HasPrefix(elem, "Array(") {
			s, err := d.arrayText(elem, e)
			if err != nil {
				return "", err
			}
			parts[i] = s
			continue
		}
		if e == nil {
			parts[i] = "NULL"
			continue
		}
		s, err := scalarText(elem, e)
		if err != nil {
			return "", err
		}
		if isNumber(elem) || elem == "Bool" {
			parts[i] = s
		} else {
			parts[i] = QuoteString(s)
		}
	}
	return "[" + strings.Join(parts, ",") + "]", nil
}

func utf8SeqLen(s string) int {
	c := s[0]
	var n int
	switch {
	case c&0xE0 == 0xC0:
		n = 2
	case c&0xF0 == 0xE0:
		n = 3
	case c&0xF8 == 0xF0:
		n = 4
	default:
		return 0
	}
	if len(s) < n {
		return 0
	}
	for i := 1; i < n; i++ {
		if s[i]&0xC0 != 0x80 {
			return 0
		}
	}
	r := []rune(s[:n])
	if len(r) != 1 || r[0] == 0xFFFD {
		return 0
	}
	return n
}
