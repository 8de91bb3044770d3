package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCORSOnEveryResponse(t *testing.T) {
	h := cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	cases := []struct {
		name       string
		method     string
		preflight  bool
		wantStatus int
	}{
		{"refusal carries CORS", http.MethodPost, false, http.StatusUnauthorized},
		{"preflight answered without auth", http.MethodOptions, true, http.StatusNoContent},
		{"plain OPTIONS goes through", http.MethodOptions, false, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/ingest/X", nil)
			if tc.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if w.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("missing CORS header: %v", w.Header())
			}
		})
	}
}

func TestRecovererLogsAndAnswers500(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), requestID, recoverer(log))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), "request_id") {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "boom") || w.Header().Get("X-Request-Id") == "" {
		t.Fatalf("log %q, headers %v", logs.String(), w.Header())
	}
}

func TestMetricsExposition(t *testing.T) {
	m := newMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ingest/{model}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) })
	h := m.instrument(mux)
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/ingest/A", nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nope", nil))
	m.authFail.inc("ingest", reasonLabel("invalid_jwt: token is expired"))
	m.observeInsert("T", 1000, 0, nil)
	var b bytes.Buffer
	m.write(&b)
	out := b.String()
	for _, want := range []string{
		`moose_http_requests_total{route="/ingest/{model}",method="POST",status="400"} 3`,
		`moose_http_requests_total{route="unmatched",method="GET",status="404"} 1`,
		`moose_auth_failures_total{scope="ingest",reason="invalid_jwt"} 1`,
		`moose_insert_batch_rows_bucket{table="T",le="1000"} 1`,
		`moose_insert_batch_rows_bucket{table="T",le="+Inf"} 1`,
		`moose_http_request_duration_seconds_count{route="/ingest/{model}"} 3`,
		"# TYPE moose_http_request_duration_seconds histogram",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestLabelEscaping(t *testing.T) {
	got := labelText([]string{"a"}, "x\"y\\z\nw", "")
	if got != `{a="x\"y\\z\nw"}` {
		t.Fatalf("got %s", got)
	}
}
