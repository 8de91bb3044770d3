package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// caScrape reads the management port's /metrics into series -> value, a
// series being the metric name with its label text as printed
// (`name{a="x",b="y"}`).
func caScrape(t *testing.T, s *server) map[string]float64 {
	t.Helper()
	resp, err := client.Get(s.MgmtURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("malformed metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("malformed metrics value in %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsCount: requests by route and status, auth failures by scope
// and reason, and ingested rows move on GET /metrics of the management
// port; the main port does not serve it.
func TestMetricsCount(t *testing.T) {
	requireEngine(t)
	vecs := loadVectors(t)
	key := "Bearer " + vecs[0].Token
	s := startServer(t, serverOpts{
		Models: map[string]string{"models.toml": caModels},
		Env:    []string{"MOOSE_CONSUMPTION_API_KEY=" + vecs[0].Hash}, // ingest stays open
	})
	before := caScrape(t, s)

	rows := `[{"id":"a","path":"/","owner":"o","n":1,"u":1,"ts":"2024-01-01T00:00:00Z"},` +
		`{"id":"b","path":"/","owner":"o","n":2,"u":2,"ts":"2024-01-01T00:00:00Z"},` +
		`{"id":"c","path":"/","owner":"o","n":3,"u":3,"ts":"2024-01-01T00:00:00Z"}]`
	if r := s.ingest(t, "Event", rows); r.Status != http.StatusOK {
		t.Fatalf("ingest: %s", r)
	}
	if r := s.ingest(t, "event", `{"id":"d","path":"/","owner":"o","n":4,"u":4,"ts":"2024-01-01T00:00:00Z"}`); r.Status != http.StatusOK {
		t.Fatalf("ingest: %s", r)
	}
	if r := s.ingest(t, "Event", `{"id":"bad"}`); r.Status != http.StatusBadRequest {
		t.Fatalf("bad ingest: %s", r)
	}
	for range 2 {
		if r := caGet(t, s, "/api/count_events", key); r.Status != http.StatusOK {
			t.Fatalf("api: %s", r)
		}
	}
	if r := caGet(t, s, "/consumption/count_events", key); r.Status != http.StatusOK {
		t.Fatalf("consumption: %s", r)
	}
	caGet(t, s, "/api/count_events")                          // 401 missing_token
	caGet(t, s, "/api/count_events", "Bearer "+vecs[1].Token) // 401 invalid_api_key
	caGet(t, s, "/api/count_events", "Bearer "+vecs[1].Token)
	caGet(t, s, "/api/count_events", "Basic abc") // 401 malformed_header
	caGet(t, s, "/admin/inframap", key)           // 401: admin is closed
	caGet(t, s, "/api/typed?num=x", key)          // 400

	after := caScrape(t, s)
	delta := func(series string) float64 { return after[series] - before[series] }
	for _, c := range []struct {
		series string
		want   float64
	}{
		{`moose_ingested_rows_total{model="Event"}`, 4},
		{`moose_http_requests_total{route="/ingest/{model}",method="POST",status="200"}`, 2},
		{`moose_http_requests_total{route="/ingest/{model}",method="POST",status="400"}`, 1},
		{`moose_http_requests_total{route="/api/{name}",method="GET",status="200"}`, 2},
		{`moose_http_requests_total{route="/consumption/{name}",method="GET",status="200"}`, 1},
		{`moose_http_requests_total{route="/api/{name}",method="GET",status="401"}`, 4},
		{`moose_http_requests_total{route="/api/{name}",method="GET",status="400"}`, 1},
		{`moose_auth_failures_total{scope="consumption",reason="missing_token"}`, 1},
		{`moose_auth_failures_total{scope="consumption",reason="invalid_api_key"}`, 2},
		{`moose_auth_failures_total{scope="consumption",reason="malformed_header"}`, 1},
		{`moose_auth_failures_total{scope="admin",reason="admin_not_configured"}`, 1},
	} {
		if got := delta(c.series); got != c.want {
			t.Errorf("%s moved by %v, want %v", c.series, got, c.want)
		}
	}
	if after[`moose_engine_query_duration_seconds_count{api="count_events"}`] < 3 {
		t.Errorf("query-time histogram: count %v, want >= 3", after[`moose_engine_query_duration_seconds_count{api="count_events"}`])
	}
	if t.Failed() {
		var names []string
		for k, v := range after {
			if strings.HasPrefix(k, "moose_http_requests_total") || strings.HasPrefix(k, "moose_auth") || strings.HasPrefix(k, "moose_ingested") {
				names = append(names, k+" "+strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
		t.Logf("series after:\n%s", strings.Join(names, "\n"))
	}
	// No token or key ends up in a label.
	for series := range after {
		for _, v := range vecs {
			if strings.Contains(series, v.Token) || strings.Contains(series, v.Hash) {
				t.Errorf("a metric label carries a credential: %s", series)
			}
		}
	}
	if r := caGet(t, s, "/metrics"); r.Status != http.StatusNotFound {
		t.Errorf("main port /metrics: %s, want 404", r)
	}
}
