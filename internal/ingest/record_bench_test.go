package ingest

import (
	"fmt"
	"testing"

	"github.com/moose-go/moose/internal/project"
)

// benchModel is a typical event: five fields of common types.
func benchModel() *project.Model {
	return &project.Model{Name: "Event", Columns: []project.Column{
		col("id", "String"),
		col("ts", "DateTime"),
		col("user_id", "UInt64"),
		col("path", "LowCardinality(String)"),
		optional(col("duration_ms", "Float64")),
	}}
}

func benchRecord(i int) string {
	return fmt.Sprintf(`{"id":"evt-%06d","ts":"2024-05-%02dT12:%02d:%02dZ","user_id":%d,"path":"/products/item-%d","duration_ms":%d.25}`,
		i, 1+i%28, i%60, (i*7)%60, 1000000+i, i%100, i%5000)
}

func benchBody(n int) []byte {
	b := []byte{'['}
	for i := range n {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, benchRecord(i)...)
	}
	return append(b, ']')
}

func BenchmarkEncodeOneRecord(b *testing.B) {
	e := newEnc(b, benchModel())
	body := []byte(benchRecord(1))
	out := make([]byte, 0, 4096)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		out, _, err = e.Encode(out[:0], body, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode1000Records(b *testing.B) {
	e := newEnc(b, benchModel())
	body := benchBody(1000)
	out := make([]byte, 0, 2*len(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		var (
			n   int
			err error
		)
		out, n, err = e.Encode(out[:0], body, nil)
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkEncodeEach1000Records(b *testing.B) {
	e := newEnc(b, benchModel())
	body := benchBody(1000)
	out := make([]byte, 0, 2*len(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		var (
			n   int
			err error
		)
		out, n, err = e.EncodeEach(out[:0], body, nil, func(int, []byte, *RecordError) {})
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
