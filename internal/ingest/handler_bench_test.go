package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/moose-go/moose/internal/project"
)

func benchProject(b *testing.B) *project.Project {
	b.Helper()
	yes := true
	p, _, err := project.FromSpec("bench", project.Spec{DataModels: []project.ModelSpec{{
		Name: "PageView", Ingest: &yes, Columns: []project.ColumnSpec{
			{Name: "id", Type: "String", Key: true}, {Name: "ts", Type: "DateTime"},
			{Name: "path", Type: "String"}, {Name: "user_id", Type: "String"},
			{Name: "duration_ms", Type: "Float64", Required: new(bool)},
		}}}})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkIngestHandler measures decode → validate → journal append →
// 200 for one small record per request, in process (no network), with
// the log not fsynced: the cost moose adds per request on top of HTTP.
func BenchmarkIngestHandler(b *testing.B) {
	j, err := OpenJournal(context.Background(), b.TempDir(), newMemEngine(), slog.New(slog.DiscardHandler), JournalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close(context.Background())
	h, err := NewHandler(benchProject(b), j, Options{MaxBodyBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux, func(h http.Handler) http.Handler { return h })
	body := []byte(`{"id":"a1","ts":"2024-01-01T00:00:00Z","path":"/home","user_id":"u1","duration_ms":12.5}`)
	b.ReportAllocs()
	b.SetParallelism(16) // 32 concurrent requests on 2 cores, like wrk -c32
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", "/ingest/PageView", bytes.NewReader(body))
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
