package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/moose-go/moose/internal/olap"
)

// fakeReader answers /admin/query.
type fakeReader struct {
	mu   sync.Mutex
	sqls []string
	err  error
}

func (r *fakeReader) Query(_ context.Context, sql string, _ []olap.Param) (*olap.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sqls = append(r.sqls, sql)
	if r.err != nil {
		return nil, r.err
	}
	return &olap.Result{Columns: []olap.ColumnMeta{{Name: "n", Type: "UInt64"}},
		Rows: [][]json.RawMessage{{json.RawMessage("42")}}}, nil
}

func encodeRows(res *olap.Result) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, row := range res.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, v := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%s", res.Columns[j].Name, v)
		}
		b.WriteByte('}')
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// handlerFixture serves the admin routes of a fixture over httptest.
type handlerFixture struct {
	*fixture
	srv *httptest.Server
	rd  *fakeReader
}

func newHandlerFixture(t *testing.T, from *InfraMap) *handlerFixture {
	t.Helper()
	h := &handlerFixture{fixture: newFixture(t, from), rd: &fakeReader{}}
	mux := http.NewServeMux()
	NewHandlers(h.svc, h.rd, encodeRows, slog.New(slog.DiscardHandler)).Register(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

type answer struct {
	status int
	ctype  string
	body   map[string]any
	raw    string
}

func (h *handlerFixture) send(t *testing.T, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), raw: string(b)}
	if err := json.Unmarshal(b, &a.body); err != nil && resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("%s %s: body is not a JSON object: %q", method, path, b)
	}
	return a
}

func planBody(t *testing.T, m *InfraMap, allow bool) string {
	return string(mustJSON(t, map[string]any{"infra_map": m, "allow_destructive": allow}))
}

func kinds(t *testing.T, v any) []string {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("changes = %T %v, want an array", v, v)
	}
	var out []string
	for _, c := range arr {
		m := c.(map[string]any)
		out = append(out, fmt.Sprintf("%s %s", m["kind"], m["object"]))
	}
	return out
}

func TestHandlerInfraMap(t *testing.T) {
	m := mapOf(t, withAPI)
	h := newHandlerFixture(t, m)
	a := h.send(t, "GET", "/admin/inframap", "")
	if a.status != 200 || a.body["status"] != "success" || a.ctype != "application/json" {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	got, _, err := DecodeMap(mustJSON(t, a.body["infra_map"]))
	if err != nil {
		t.Fatalf("the served map does not decode: %v", err)
	}
	if got.Digest() != m.Digest() {
		t.Error("served map differs from the running one")
	}
	if a := h.send(t, "POST", "/admin/inframap", "{}"); a.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /admin/inframap: %d", a.status)
	}
}

func TestHandlerPlan(t *testing.T) {
	base := mapOf(t, baseModels)
	cases := []struct {
		name   string
		body   string
		status int
		want   []string // change "kind object" or an error substring
	}{
		{"add column", planBody(t, mapOf(t, withX), false), 200, []string{"add_column column PageView.x"}},
		{"destructive is only shown", planBody(t, mapOf(t, retyped), false), 200, []string{"modify_column column PageView.n"}},
		{"no changes", planBody(t, base, false), 200, nil},
		{"empty map drops all", `{"infra_map":{"version":1,"data_models":[],"apis":[]}}`, 200,
			[]string{"drop_table table PageView", "remove_ingest_route route POST /ingest/PageView"}},
		{"no body", ``, 400, []string{"bad JSON request"}},
		{"not JSON", `{"infra_map":`, 400, []string{"bad JSON request"}},
		{"unknown request field", `{"infra_map":{"version":1},"dry_run":true}`, 400, []string{`unknown field "dry_run"`}},
		{"trailing data", `{"infra_map":{"version":1}} {}`, 400, []string{"trailing data"}},
		{"missing map", `{}`, 400, []string{"infra_map is missing"}},
		{"wrong version", `{"infra_map":{"version":7}}`, 400, []string{"version 7"}},
		{"invalid model", `{"infra_map":{"version":1,"data_models":[{"name":"T","columns":[{"name":"a","type":"Nope"}]}]}}`, 400,
			[]string{"invalid infrastructure map", "Nope"}},
		{"too large", `{"infra_map":"` + strings.Repeat("x", maxAdminBody) + `"}`, 413, []string{"request body over"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandlerFixture(t, base)
			a := h.send(t, "POST", "/admin/plan", tc.body)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", a.status, tc.status, a.raw)
			}
			if tc.status == 200 {
				if a.body["status"] != "success" {
					t.Errorf("status field: %v", a.body["status"])
				}
				got := kinds(t, a.body["changes"])
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Errorf("changes %q, want %q", got, tc.want)
				}
			} else {
				msg, _ := a.body["error"].(string)
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not contain %q", msg, w)
					}
				}
			}
			if h.mig.applies() != 0 || h.cur.Load() != base {
				t.Error("plan changed something")
			}
		})
	}
}

func TestHandlerIntegrate(t *testing.T) {
	t.Run("applies", func(t *testing.T) {
		h := newHandlerFixture(t, mapOf(t, baseModels))
		a := h.send(t, "POST", "/admin/integrate-changes", planBody(t, mapOf(t, withAPI), false))
		if a.status != 200 || a.body["status"] != "success" {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		if got := kinds(t, a.body["changes"]); len(got) != 1 || got[0] != "add_api api GET /api/views" {
			t.Errorf("changes %q", got)
		}
		if len(h.cur.Load().APIRoutes) != 1 {
			t.Error("map not switched")
		}
	})
	t.Run("destructive refused then allowed", func(t *testing.T) {
		from := mapOf(t, withX)
		h := newHandlerFixture(t, from)
		a := h.send(t, "POST", "/admin/integrate-changes", planBody(t, mapOf(t, baseModels), false))
		if a.status != 409 {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		if msg, _ := a.body["error"].(string); !strings.Contains(msg, "allow_destructive") || !strings.Contains(msg, "nothing was applied") {
			t.Errorf("error %q", msg)
		}
		if got := kinds(t, a.body["destructive"]); len(got) != 1 || got[0] != "drop_column column PageView.x" {
			t.Errorf("destructive %q", got)
		}
		if h.mig.applies() != 0 || h.cur.Load() != from {
			t.Fatal("refused apply changed something")
		}
		a = h.send(t, "POST", "/admin/integrate-changes", planBody(t, mapOf(t, baseModels), true))
		if a.status != 200 || h.mig.applies() != 1 || len(h.cur.Load().Tables[0].Columns) != 2 {
			t.Fatalf("%d %s", a.status, a.raw)
		}
	})
	t.Run("busy", func(t *testing.T) {
		h := newHandlerFixture(t, mapOf(t, baseModels))
		h.mig.entered, h.mig.block = make(chan struct{}, 1), make(chan struct{})
		first := make(chan answer, 1)
		go func() { first <- h.send(t, "POST", "/admin/integrate-changes", planBody(t, mapOf(t, withX), false)) }()
		<-h.mig.entered
		a := h.send(t, "POST", "/admin/integrate-changes", planBody(t, mapOf(t, withAPI), false))
		close(h.mig.block)
		if a.status != 409 || a.body["destructive"] != nil {
			t.Errorf("second: %d %s", a.status, a.raw)
		}
		if msg, _ := a.body["error"].(string); !strings.Contains(msg, "another apply is running") {
			t.Errorf("error %q", msg)
		}
		if f := <-first; f.status != 200 {
			t.Errorf("first: %d %s", f.status, f.raw)
		}
	})
	t.Run("engine failure is a 500 with one line", func(t *testing.T) {
		from := mapOf(t, baseModels)
		h := newHandlerFixture(t, from)
		h.mig.fail = fmt.Errorf("code 241: memory limit exceeded\nstack trace:\n  frame 1")
		a := h.send(t, "POST", "/admin/integrate-changes", planBody(t, mapOf(t, withX), false))
		msg, _ := a.body["error"].(string)
		if a.status != 500 || !strings.Contains(msg, "memory limit exceeded") || strings.Contains(msg, "stack trace") {
			t.Errorf("%d %q", a.status, msg)
		}
		if h.cur.Load() != from {
			t.Error("map switched after a failure")
		}
	})
	t.Run("bad map", func(t *testing.T) {
		h := newHandlerFixture(t, mapOf(t, baseModels))
		a := h.send(t, "POST", "/admin/integrate-changes", `{"infra_map":{"version":1,"data_models":[{"name":"1x"}]}}`)
		if a.status != 400 || h.mig.applies() != 0 {
			t.Errorf("%d %s", a.status, a.raw)
		}
	})
}

func TestHandlerRealityCheck(t *testing.T) {
	h := newHandlerFixture(t, mapOf(t, withX))
	a := h.send(t, "GET", "/admin/reality-check", "")
	if a.status != 200 || a.body["in_sync"] != true {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	if d, ok := a.body["differences"].([]any); !ok || len(d) != 0 {
		t.Errorf("differences = %v, want []", a.body["differences"])
	}
	h.mig.mu.Lock()
	h.mig.tables = nil // dropped behind the server's back
	h.mig.mu.Unlock()
	a = h.send(t, "GET", "/admin/reality-check", "")
	if a.status != 200 || a.body["in_sync"] != false {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	if got := kinds(t, a.body["differences"]); len(got) != 1 || got[0] != "create_table table PageView" {
		t.Errorf("differences %q", got)
	}
}

func TestHandlerQuery(t *testing.T) {
	h := newHandlerFixture(t, mapOf(t, baseModels))
	a := h.send(t, "POST", "/admin/query", `{"sql":"SELECT count() AS n FROM PageView"}`)
	if a.status != 200 {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	if strings.TrimSpace(a.raw) != `{"columns":[{"name":"n","type":"UInt64"}],"rows":[{"n":42}]}` {
		t.Errorf("body %s", a.raw)
	}
	for _, sql := range []string{"DROP TABLE PageView", "INSERT INTO PageView VALUES ('a', 1)", "", "  alter table x"} {
		a := h.send(t, "POST", "/admin/query", string(mustJSON(t, map[string]string{"sql": sql})))
		if a.status != 400 {
			t.Errorf("%q: %d %s", sql, a.status, a.raw)
		}
	}
	h.rd.err = fmt.Errorf("%w: Unknown identifier x\nmore", olap.ErrBadQuery)
	a = h.send(t, "POST", "/admin/query", `{"sql":"SELECT x"}`)
	if msg, _ := a.body["error"].(string); a.status != 400 || strings.Contains(msg, "more") {
		t.Errorf("%d %s", a.status, a.raw)
	}
	h.rd.mu.Lock()
	defer h.rd.mu.Unlock()
	if len(h.rd.sqls) != 2 {
		t.Errorf("queries run: %q (refused statements must not reach the engine)", h.rd.sqls)
	}
}

func TestReadOnly(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT 1": true, "  select 1": true, "(SELECT 1)": true, "WITH x AS (SELECT 1) SELECT * FROM x": true,
		"SHOW TABLES": true, "DESCRIBE PageView": true, "DESC PageView": true, "EXPLAIN SELECT 1": true,
		"EXISTS TABLE PageView": true, "DROP TABLE x": false, "INSERT INTO x VALUES (1)": false,
		"SELECTX": false, "": false, "ALTER TABLE x DELETE WHERE 1": false, "OPTIMIZE TABLE x": false,
		// One statement only: the engine runs everything after a semicolon.
		"SELECT 1; DROP TABLE x": false, "SELECT 1;DROP TABLE x;": false, "SELECT 1 ;\n\tDROP TABLE x": false,
		"SELECT 1;": true, "SELECT 1 ;  \n": true, "SELECT 1; -- done": true, "SELECT 1; /* done */": true,
		"SELECT ';' AS s": true, "SELECT 'it''s;' AS s": true, `SELECT 'a\\;' AS s`: true, `SELECT 'a\\';' AS s`: false, "SELECT `a;b` FROM t": true,
		`SELECT "a;b" FROM t`: true, "SELECT 1 -- ; DROP TABLE x": true, "SELECT 1 /* ; */": true,
		`SELECT 'a\'; DROP TABLE x; --'`: true, "SELECT 1 # ; DROP TABLE x": false, "SELECT 1 /* /* */ ; DROP TABLE x */": false,
		"SELECT 1; 'x'": false,
	} {
		if got := ReadOnly(sql); got != want {
			t.Errorf("ReadOnly(%q) = %v, want %v", sql, got, want)
		}
	}
}
