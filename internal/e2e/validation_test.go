package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const validationModels = `
[[data_model]]
name = "Typed"
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "s"
  type = "String"
  [[data_model.columns]]
  name = "i32"
  type = "Int32"
  [[data_model.columns]]
  name = "u8"
  type = "UInt8"
  [[data_model.columns]]
  name = "f"
  type = "Float64"
  [[data_model.columns]]
  name = "ts"
  type = "DateTime"
  [[data_model.columns]]
  name = "d"
  type = "Date"
  [[data_model.columns]]
  name = "b"
  type = "Bool"
  [[data_model.columns]]
  name = "u"
  type = "UUID"
  [[data_model.columns]]
  name = "dec"
  type = "Decimal(10,2)"
  [[data_model.columns]]
  name = "tags"
  type = "Array(String)"
  [[data_model.columns]]
  name = "note"
  type = "String"
  required = false

[[data_model]]
name = "Loose"
allow_extra_fields = true
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "n"
  type = "Int32"

[[data_model]]
name = "DL"
dead_letter = true
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "n"
  type = "UInt8"

[[api]]
name = "count_typed"
sql = "SELECT count() AS n FROM Typed"

[[api]]
name = "count_loose"
sql = "SELECT count() AS n FROM Loose"

[[api]]
name = "count_dl"
sql = "SELECT count() AS n FROM DL"

[[api]]
name = "count_dl_dead"
sql = "SELECT count() AS n FROM DL_dead_letter"

[[api]]
name = "dl_rows"
sql = "SELECT record_index, record, error FROM DL_dead_letter ORDER BY record_index"

[[api]]
name = "typed_row"
sql = "SELECT ts, d, dec, tags, b, u, note, u8, i32 FROM Typed WHERE id = {id:String}"
`

// maxBody is the server's max_request_body_size in the validation project.
const maxBody = 256 << 10

// typedRecord is a valid Typed record as ordered raw JSON fields.
var typedRecord = [][2]string{
	{"id", `"x"`}, {"s", `"hello"`}, {"i32", `-5`}, {"u8", `200`}, {"f", `1.5`},
	{"ts", `"2024-01-01T12:00:00Z"`}, {"d", `"2024-02-29"`}, {"b", `true`},
	{"u", `"6F9619FF-8B86-D011-B42D-00C04FC964FF"`}, {"dec", `"12.34"`}, {"tags", `["a","b"]`},
}

// record renders typedRecord with id, the fields in set replaced or added
// (raw JSON), and the fields in del removed.
func record(id string, set map[string]string, del ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	seen := map[string]bool{}
	first := true
	field := func(k, v string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	for _, kv := range typedRecord {
		k, v := kv[0], kv[1]
		seen[k] = true
		if k == "id" {
			v = fmt.Sprintf("%q", id)
		}
		if nv, ok := set[k]; ok {
			v = nv
		}
		skip := false
		for _, d := range del {
			skip = skip || d == k
		}
		if !skip {
			field(k, v)
		}
	}
	for k, v := range set {
		if !seen[k] {
			field(k, v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func TestIngestValidation(t *testing.T) {
	requireEngine(t)
	s := startServer(t, serverOpts{
		HTTP:   fmt.Sprintf("max_request_body_size = %d", maxBody),
		Models: map[string]string{"models.toml": validationModels},
		// The process's local time zone must not leak into stored DateTimes.
		Env: []string{"TZ=Asia/Kolkata"},
	})
	stored := int64(0) // rows expected in Typed

	tests := []struct {
		name  string
		set   map[string]string
		del   []string
		field string // "": the record is valid (200); else the 400 names it
	}{
		{name: "valid", set: nil},
		{name: "UInt8 max 255", set: map[string]string{"u8": "255"}},
		{name: "Int32 min", set: map[string]string{"i32": "-2147483648"}},
		{name: "Int32 max", set: map[string]string{"i32": "2147483647"}},
		{name: "Date upper bound", set: map[string]string{"d": `"2149-06-06"`}},
		{name: "DateTime space form", set: map[string]string{"ts": `"2024-01-01 12:00:00"`}},
		{name: "Decimal as number", set: map[string]string{"dec": "99999999.99"}},
		{name: "empty array", set: map[string]string{"tags": "[]"}},
		{name: "optional absent", set: nil, del: []string{"note"}},
		{name: "optional null", set: map[string]string{"note": "null"}},
		{name: "optional given", set: map[string]string{"note": `"hi"`}},

		{name: "String given a number", set: map[string]string{"s": "5"}, field: "s"},
		{name: "Int32 given a string", set: map[string]string{"i32": `"5"`}, field: "i32"},
		{name: "Int32 overflow", set: map[string]string{"i32": "2147483648"}, field: "i32"},
		{name: "Int32 underflow", set: map[string]string{"i32": "-2147483649"}, field: "i32"},
		{name: "Int32 fraction", set: map[string]string{"i32": "1.5"}, field: "i32"},
		{name: "UInt8 300", set: map[string]string{"u8": "300"}, field: "u8"},
		{name: "UInt8 negative", set: map[string]string{"u8": "-1"}, field: "u8"},
		{name: "Float64 given a string", set: map[string]string{"f": `"abc"`}, field: "f"},
		{name: "Float64 given a bool", set: map[string]string{"f": "true"}, field: "f"},
		{name: "DateTime word", set: map[string]string{"ts": `"yesterday"`}, field: "ts"},
		{name: "DateTime Feb 30", set: map[string]string{"ts": `"2024-02-30T00:00:00Z"`}, field: "ts"},
		{name: "DateTime hour 25", set: map[string]string{"ts": `"2024-01-01 25:00:00"`}, field: "ts"},
		{name: "DateTime epoch number", set: map[string]string{"ts": "1704067200"}, field: "ts"},
		{name: "DateTime before 1970", set: map[string]string{"ts": `"1969-12-31T23:59:59Z"`}, field: "ts"},
		{name: "Date not a leap year", set: map[string]string{"d": `"2023-02-29"`}, field: "d"},
		{name: "Date month 13", set: map[string]string{"d": `"2024-13-01"`}, field: "d"},
		{name: "Date with time", set: map[string]string{"d": `"2024-01-01T00:00:00Z"`}, field: "d"},
		{name: "Bool given a string", set: map[string]string{"b": `"yes"`}, field: "b"},
		{name: "Bool given 1", set: map[string]string{"b": "1"}, field: "b"},
		{name: "UUID malformed", set: map[string]string{"u": `"not-a-uuid"`}, field: "u"},
		{name: "Decimal too many fraction digits", set: map[string]string{"dec": "1.234"}, field: "dec"},
		{name: "Decimal too many integer digits", set: map[string]string{"dec": "123456789"}, field: "dec"},
		{name: "Decimal not a number", set: map[string]string{"dec": `"abc"`}, field: "dec"},
		{name: "Array given a string", set: map[string]string{"tags": `"a"`}, field: "tags"},
		{name: "Array of numbers", set: map[string]string{"tags": "[1,2]"}, field: "tags"},
		{name: "Array with null", set: map[string]string{"tags": `["a",null]`}, field: "tags"},
		{name: "Array given an object", set: map[string]string{"tags": `{"a":1}`}, field: "tags"},
		{name: "unknown field", set: map[string]string{"extra": "1"}, field: "extra"},
		{name: "required null", set: map[string]string{"i32": "null"}, field: "i32"},
		{name: "required missing", del: []string{"ts"}, field: "ts"},
		{name: "required key null", set: map[string]string{"id": "null"}, field: "id"},
		{name: "optional of the wrong type", set: map[string]string{"note": "5"}, field: "note"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("v%d", i)
			bad := record(id, tc.set, tc.del...)
			if tc.field == "" {
				r := s.ingest(t, "Typed", bad)
				if r.Status != http.StatusOK {
					t.Fatalf("valid record %s: got %s, want 200", bad, r)
				}
				stored++
				return
			}
			// The bad record is index 1 of a batch whose record 0 is valid:
			// the 400 names index 1 and the field, and record 0 is not stored.
			body := "[" + record(id+"-ok", nil) + "," + bad + "]"
			r := s.ingest(t, "Typed", body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%s: got %s, want 400", bad, r)
			}
			msg := errorMessage(t, r)
			for _, want := range []string{"record 1", fmt.Sprintf("field %q", tc.field)} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}

	bodies := []struct {
		name, body, want string
	}{
		{"not JSON", `{"id":`, "JSON"},
		{"empty body", ``, "empty"},
		{"scalar body", `42`, "object"},
		{"array of scalars", `[1,2]`, "record 0"},
		{"duplicate key", `{"id":"a","id":"b"}`, "duplicate"},
	}
	for _, tc := range bodies {
		t.Run("body "+tc.name, func(t *testing.T) {
			r := s.ingest(t, "Typed", tc.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("got %s, want 400", r)
			}
			if msg := errorMessage(t, r); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not contain %q", msg, tc.want)
			}
		})
	}

	t.Run("only valid requests were stored", func(t *testing.T) {
		if n := s.count(t, "count_typed"); n != stored {
			t.Fatalf("rows in Typed = %d, want %d", n, stored)
		}
	})

	t.Run("batch of 1000 with record 737 bad", func(t *testing.T) {
		var b strings.Builder
		b.WriteByte('[')
		for i := range 1000 {
			if i > 0 {
				b.WriteByte(',')
			}
			if i == 737 {
				b.WriteString(record(fmt.Sprintf("batch-%d", i), map[string]string{"u8": "300"}))
			} else {
				b.WriteString(record(fmt.Sprintf("batch-%d", i), nil))
			}
		}
		b.WriteByte(']')
		if b.Len() > maxBody {
			t.Fatalf("test body of %d bytes is over the server's limit %d", b.Len(), maxBody)
		}
		r := s.ingest(t, "Typed", b.String())
		if r.Status != http.StatusBadRequest {
			t.Fatalf("got %s, want 400", r)
		}
		msg := errorMessage(t, r)
		if !strings.Contains(msg, "record 737") || !strings.Contains(msg, `field "u8"`) {
			t.Errorf("error %q does not name record 737 and field u8", msg)
		}
		if n := s.count(t, "count_typed"); n != stored {
			t.Errorf("rows in Typed = %d after the rejected batch, want %d (none of it stored)", n, stored)
		}
		// The same batch fixed is stored whole.
		fixed := strings.Replace(b.String(), `"u8":300`, `"u8":30`, 1)
		if r := s.ingest(t, "Typed", fixed); r.Status != http.StatusOK {
			t.Fatalf("fixed batch: %s", r)
		}
		stored += 1000
		if n := s.count(t, "count_typed"); n != stored {
			t.Errorf("rows in Typed = %d after the fixed batch, want %d", n, stored)
		}
	})

	t.Run("body over the limit", func(t *testing.T) {
		var b strings.Builder
		b.WriteByte('[')
		for i := 0; b.Len() <= maxBody+1024; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(record(fmt.Sprintf("big-%d", i), nil))
		}
		b.WriteByte(']')
		big := b.String()
		t.Run("with Content-Length", func(t *testing.T) {
			r := s.ingest(t, "Typed", big)
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("got %s, want 413", r)
			}
			errorMessage(t, r)
		})
		t.Run("chunked", func(t *testing.T) {
			// An io.Reader of unknown length makes the client send chunks, so
			// the limit is found while reading, not from the header.
			req, _ := http.NewRequest(http.MethodPost, s.BaseURL+"/ingest/Typed", io.MultiReader(strings.NewReader(big)))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("chunked request: %v", err)
			}
			defer resp.Body.Close()
			if req.ContentLength != 0 && req.ContentLength != -1 {
				t.Fatalf("request was not chunked (ContentLength %d)", req.ContentLength)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("got %d %s, want 413", resp.StatusCode, b)
			}
		})
		if n := s.count(t, "count_typed"); n != stored {
			t.Errorf("rows in Typed = %d, want %d", n, stored)
		}
	})

	t.Run("DateTime stored in UTC", func(t *testing.T) {
		rec := record("tz", map[string]string{"ts": `"2024-01-01T12:00:00+02:00"`})
		if r := s.ingest(t, "Typed", rec); r.Status != http.StatusOK {
			t.Fatalf("ingest: %s", r)
		}
		stored++
		rows := s.query(t, "typed_row", url.Values{"id": {"tz"}})
		if len(rows) != 1 {
			t.Fatalf("typed_row: %v", rows)
		}
		row := rows[0]
		if got := fmt.Sprint(row["ts"]); got != "2024-01-01T10:00:00Z" {
			t.Errorf("ts = %q, want 2024-01-01T10:00:00Z (server TZ=Asia/Kolkata must not matter)", got)
		}
		if got := fmt.Sprint(row["d"]); got != "2024-02-29" {
			t.Errorf("d = %q, want 2024-02-29", got)
		}
		if got := fmt.Sprint(row["u"]); got != "6f9619ff-8b86-d011-b42d-00c04fc964ff" {
			t.Errorf("u = %q", got)
		}
		if got := fmt.Sprint(row["dec"]); got != "12.34" {
			t.Errorf("dec = %q, want 12.34", got)
		}
		if got := fmt.Sprint(row["tags"]); got != "[a b]" {
			t.Errorf("tags = %q, want [a b]", got)
		}
		if row["note"] != nil {
			t.Errorf("note = %v, want null", row["note"])
		}
		if row["b"] != true {
			t.Errorf("b = %v, want true", row["b"])
		}
	})

	t.Run("allow_extra_fields", func(t *testing.T) {
		if r := s.ingest(t, "Loose", `{"id":"a","n":1,"extra":{"x":[1,2]},"more":"y"}`); r.Status != http.StatusOK {
			t.Errorf("extra fields: %s, want 200", r)
		}
		if r := s.ingest(t, "Loose", `{"id":"b","n":"one","extra":1}`); r.Status != http.StatusBadRequest {
			t.Errorf("known field of the wrong type: %s, want 400", r)
		}
		if n := s.count(t, "count_loose"); n != 1 {
			t.Errorf("rows in Loose = %d, want 1", n)
		}
	})

	t.Run("dead letter", func(t *testing.T) {
		r := s.ingest(t, "DL", `[{"id":"g1","n":1},{"id":"b1","n":300},{"id":"g2","n":2},{"id":"b2","n":1,"zzz":true}]`)
		if r.Status != http.StatusOK {
			t.Fatalf("got %s, want 200", r)
		}
		if n := s.count(t, "count_dl"); n != 2 {
			t.Errorf("rows in DL = %d, want 2 (the good records)", n)
		}
		if n := s.count(t, "count_dl_dead"); n != 2 {
			t.Errorf("rows in DL_dead_letter = %d, want 2 (the bad records)", n)
		}
		rows := s.query(t, "dl_rows", nil)
		if len(rows) != 2 {
			t.Fatalf("dl_rows: %v", rows)
		}
		for i, want := range []struct {
			index        int64
			record, errs string
		}{{1, `"b1"`, `field "n"`}, {3, `"b2"`, `field "zzz"`}} {
			row := rows[i]
			if got := asInt(t, row["record_index"]); got != want.index {
				t.Errorf("row %d record_index = %d, want %d", i, got, want.index)
			}
			if rec := fmt.Sprint(row["record"]); !strings.Contains(rec, want.record) {
				t.Errorf("row %d record = %q, want the rejected record", i, rec)
			}
			if e := fmt.Sprint(row["error"]); !strings.Contains(e, want.errs) {
				t.Errorf("row %d error = %q, want it to contain %s", i, e, want.errs)
			}
		}
		// A body that is not JSON at all has no records to keep: 400.
		if r := s.ingest(t, "DL", `[{"id":"x"`); r.Status != http.StatusBadRequest {
			t.Errorf("malformed JSON to a dead-letter model: %s, want 400", r)
		}
		if n := s.count(t, "count_dl"); n != 2 {
			t.Errorf("rows in DL = %d after the malformed body, want 2", n)
		}
	})
}

// errorMessage returns the "error" of a JSON error body.
func errorMessage(t *testing.T, r reply) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.Body)
	}
	msg, _ := m["error"].(string)
	if msg == "" {
		t.Fatalf(`error body has no "error": %s`, r.Body)
	}
	return msg
}
