package embedded

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap"
)

func benchTable(b *testing.B, s *Store, name string) string {
	b.Helper()
	table := fmt.Sprintf("%s_%d", name, time.Now().UnixNano())
	err := s.Apply(context.Background(), []olap.Change{{Kind: olap.CreateTable, Table: olap.Table{Name: table, Columns: []olap.Column{
		{Name: "ts", Type: "DateTime"}, {Name: "path", Type: "String"}, {Name: "user_id", Type: "String"},
		{Name: "duration_ms", Type: "Float64", Nullable: true},
	}, OrderBy: []string{"path", "ts"}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.Apply(context.Background(), []olap.Change{{Kind: olap.DropTable, Table: olap.Table{Name: table}}})
	})
	return table
}

// chunks is 1M small PageView rows as 10 JSONEachRow batches of 100k.
func chunks() [][]byte {
	out := make([][]byte, 10)
	for c := range out {
		var buf bytes.Buffer
		for i := range 100_000 {
			n := c*100_000 + i
			fmt.Fprintf(&buf, `{"ts":"2024-01-%02d 10:%02d:%02d","path":"/p/%d","user_id":"u%d","duration_ms":%d.5}`+"\n",
				1+n%28, n%60, n%60, n%100, n%1000, n%500)
		}
		out[c] = buf.Bytes()
	}
	return out
}

// BenchmarkInsert1M inserts 1M small rows in 10 batches of 100k per op.
func BenchmarkInsert1M(b *testing.B) {
	s := openShared(b)
	data := chunks()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		table := benchTable(b, s, "bench_insert")
		b.StartTimer()
		for _, c := range data {
			if err := s.Insert(ctx, table, c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkGroupBy runs a top-pages GROUP BY over 1M rows.
func BenchmarkGroupBy(b *testing.B) {
	s := openShared(b)
	ctx := context.Background()
	table := benchTable(b, s, "bench_groupby")
	for _, c := range chunks() {
		if err := s.Insert(ctx, table, c); err != nil {
			b.Fatal(err)
		}
	}
	sql := "SELECT path, count() AS views, avg(duration_ms) FROM " + table +
		" WHERE ts >= {since:DateTime} GROUP BY path ORDER BY views DESC LIMIT {limit:UInt32}"
	params := []olap.Param{{Name: "since", Type: "DateTime", Value: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Name: "limit", Type: "UInt32", Value: uint64(10)}}
	b.ResetTimer()
	for b.Loop() {
		r, err := s.Query(ctx, sql, params)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Rows) != 10 {
			b.Fatalf("rows = %d", len(r.Rows))
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "rows/s")
}
