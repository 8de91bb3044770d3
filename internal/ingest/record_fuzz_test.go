package ingest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/moose-go/moose/internal/project"
)

// FuzzEncode feeds arbitrary bodies to an encoder of every column type:
// it must never panic, and whenever it succeeds every output line must be
// valid JSON (per encoding/json) with exactly the model's columns as keys,
// in order. EncodeEach must agree with Encode on bodies Encode accepts.
func FuzzEncode(f *testing.F) {
	m := &project.Model{Name: "F", AllowExtraFields: true, Columns: []project.Column{
		col("s", "String"),
		optional(col("i", "Int32")),
		optional(col("u", "UInt64")),
		optional(col("f", "Float32")),
		optional(col("b", "Bool")),
		optional(col("d", "Date")),
		optional(col("t", "DateTime")),
		optional(col("t64", "DateTime64(3)")),
		optional(col("id", "UUID")),
		optional(col("dec", "Decimal(9, 3)")),
		optional(col("a", "Array(Array(LowCardinality(String)))")),
		optional(claimCol(col("who", "String"), "sub")),
	}}
	e, err := NewEncoder(m)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"s":"x"}`, `[{"s":"a","i":-5,"u":18446744073709551615,"f":1.5e3,"b":true}]`,
		`{"s":"\u00e9\ud83d\ude00","d":"2024-02-29","t":"2024-01-02T03:04:05+05:30","t64":"2024-01-02 03:04:05.123456"}`,
		`{"s":"","id":"6F9619FF-8B86-D011-B42D-00C04FC964FF","dec":"-12.5","a":[["x"],[]],"extra":{"k":[1,2,{}]}}`,
		`[]`, `[{"s":"a"},{"s":"b","i":1e3}]`, `{"s":1}`, `{"s":"a","s":"b"}`, `{"s":"a","who":"x"}`,
		"{\"s\":\"\xff\"}", `[{"s":"a"},]`, `{"s":"\ud800"}`, `{"dec":1.2345}`, `{"f":1e39}`,
	} {
		f.Add([]byte(s))
	}
	claims := map[string]any{"sub": "fuzzer"}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<16 {
			return
		}
		out, n, err := e.Encode(nil, body, claims)
		var rejects int
		out2, n2, err2 := e.EncodeEach(nil, body, claims, func(int, []byte, *RecordError) { rejects++ })
		if err != nil {
			if len(out) != 0 || n != 0 {
				t.Fatalf("error %v but output %q, n = %d", err, out, n)
			}
			if _, ok := err.(*RecordError); !ok {
				t.Fatalf("error %T is not a *RecordError", err)
			}
			if err2 == nil && rejects == 0 {
				t.Fatalf("Encode failed (%v) but EncodeEach accepted everything", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if err2 != nil || rejects != 0 || n2 != n || !bytes.Equal(out, out2) {
			t.Fatalf("EncodeEach disagrees: %v, %d rejects, n %d/%d", err2, rejects, n2, n)
		}
		if c := bytes.Count(out, []byte("\n")); c != n {
			t.Fatalf("n = %d but %d lines", n, c)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if n == 0 {
				break
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(line, &obj); err != nil {
				t.Fatalf("invalid output line %q: %v", line, err)
			}
			if len(obj) != len(m.Columns) {
				t.Fatalf("line %q has %d keys, want %d", line, len(obj), len(m.Columns))
			}
			for _, c := range m.Columns {
				if _, ok := obj[c.Name]; !ok {
					t.Fatalf("line %q lacks %q", line, c.Name)
				}
			}
		}
		checkLines(t, m, out)
	})
}
