package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/moose-go/moose/internal/olap"
)

// maxCell is how many characters of a value a table shows.
const maxCell = 60

// writeTable prints an aligned table: a header row, then rows. Cells are
// shown as they are; call cell to sanitize untrusted text first.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			io.WriteString(tw, c)
		}
		io.WriteString(tw, "\n")
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out bytes.Buffer
	for _, l := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
		nl := bytes.HasSuffix(l, []byte("\n"))
		out.Write(bytes.TrimRight(l, " \n"))
		if nl {
			out.WriteByte('\n')
		}
	}
	_, err := w.Write(out.Bytes())
	return err
}

// cell makes text safe and short for one table cell: control characters
// (newlines, tabs, ESC) are escaped so they cannot break the layout or drive
// the terminal, invalid UTF-8 shows as \xNN, and text longer than maxCell
// characters is cut with "…".
func cell(s string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case r == '\n':
			piece = `\n`
		case r == '\t':
			piece = `\t`
		case r == '\r':
			piece = `\r`
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r):
			piece = strings.Trim(strconv.QuoteRuneToASCII(r), "'")
		default:
			piece = s[i : i+size]
		}
		i += size
		if n+utf8.RuneCountInString(piece) > maxCell {
			b.WriteString("…")
			return b.String()
		}
		b.WriteString(piece)
		n += utf8.RuneCountInString(piece)
	}
	return b.String()
}

// rowSet is a query result as clients see it: columns in result order and
// each row's values as JSON (DateTime as RFC 3339 UTC, the API format).
type rowSet struct {
	Columns []olap.ColumnMeta
	Rows    [][]json.RawMessage
}

// decodeRows reads a JSON array of row objects (api.EncodeRows's format)
// keeping each object's member order, and lines the values up with cols.
func decodeRows(cols []olap.ColumnMeta, data []byte) (*rowSet, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	rs := &rowSet{Columns: cols, Rows: [][]json.RawMessage{}}
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	for dec.More() {
		if err := expectDelim(dec, '{'); err != nil {
			return nil, err
		}
		var row []json.RawMessage
		for dec.More() {
			if _, err := dec.Token(); err != nil { // the key: values follow the columns' order
				return nil, err
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			row = append(row, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		if len(row) != len(cols) {
			return nil, fmt.Errorf("a row has %d values for %d columns", len(row), len(cols))
		}
		rs.Rows = append(rs.Rows, row)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return rs, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, got %v", want, tok)
	}
	return nil
}

// display is how a JSON value reads in a table: strings without quotes,
// null as NULL, arrays and objects as compact JSON.
func display(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0, string(v) == "null":
		return "NULL"
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	case v[0] == '[' || v[0] == '{':
		var b bytes.Buffer
		if json.Compact(&b, v) == nil {
			return b.String()
		}
	}
	return string(v)
}

// writeRows prints rs as an aligned table followed by a row count, or with
// asJSON as a JSON array of row objects (members in column order).
func writeRows(w io.Writer, rs *rowSet, asJSON bool) error {
	if asJSON {
		var b bytes.Buffer
		b.WriteString("[")
		for i, row := range rs.Rows {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n  {")
			for j, v := range row {
				if j > 0 {
					b.WriteString(", ")
				}
				k, _ := json.Marshal(rs.Columns[j].Name)
				b.Write(k)
				b.WriteString(": ")
				json.Compact(&b, v)
			}
			b.WriteString("}")
		}
		if len(rs.Rows) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("]\n")
		_, err := w.Write(b.Bytes())
		return err
	}
	header := make([]string, len(rs.Columns))
	for i, c := range rs.Columns {
		header[i] = cell(c.Name)
	}
	rows := make([][]string, len(rs.Rows))
	for i, row := range rs.Rows {
		rows[i] = make([]string, len(row))
		for j, v := range row {
			rows[i][j] = cell(display(v))
		}
	}
	if err := writeTable(w, header, rows); err != nil {
		return err
	}
	noun := "rows"
	if len(rs.Rows) == 1 {
		noun = "row"
	}
	_, err := fmt.Fprintf(w, "(%d %s)\n", len(rs.Rows), noun)
	return err
}
