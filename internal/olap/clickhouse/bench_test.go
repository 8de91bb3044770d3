package clickhouse

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap"
)

// BenchmarkInsert stores 1M small rows in 10k-row batches per iteration.
func BenchmarkInsert(b *testing.B) {
	const rows, batch = 1_000_000, 10_000
	s := openStore(b)
	ctx := ctxT(b)
	batches := make([][]byte, rows/batch)
	for i := range batches {
		var buf bytes.Buffer
		for j := range batch {
			n := i*batch + j
			fmt.Fprintf(&buf, `{"id":%d,"name":"user-%d","ts":"2024-01-01T00:00:%02dZ","v":%d.5}`+"\n", n, n%1000, n%60, n%100)
		}
		batches[i] = buf.Bytes()
	}
	b.ReportAllocs()
	iter := 0
	var elapsed time.Duration
	for b.Loop() {
		// A fresh table each time keeps the active-part count low.
		b.StopTimer()
		name := fmt.Sprintf("bench_%d", iter)
		iter++
		if err := s.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: olap.Table{Name: name, OrderBy: []string{"id"},
			Columns: []olap.Column{{Name: "id", Type: "UInt64"}, {Name: "name", Type: "String"}, {Name: "ts", Type: "DateTime"}, {Name: "v", Type: "Float64"}},
		}}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for _, p := range batches {
			if err := s.Insert(ctx, name, p); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(rows*iter)/elapsed.Seconds(), "rows/s")
}
