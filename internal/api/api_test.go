package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/httpx"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/project"
)

// fakeReader records the params it was given and answers a fixed result.
type fakeReader struct {
	got []olap.Param
	res *olap.Result
	err error
}

func (f *fakeReader) Query(_ context.Context, _ string, ps []olap.Param) (*olap.Result, error) {
	f.got = ps
	return f.res, f.err
}

func testProject(t *testing.T) *project.Project {
	t.Helper()
	sub := "sub"
	p, _, err := project.FromSpec("test", project.Spec{APIs: []project.APISpec{
		{Name: "top", SQL: "SELECT {since:DateTime} AS s, {limit:UInt32} AS l, {tags:Array(String)} AS t, {name:String} AS n",
			Params: []project.ParamSpec{{Name: "limit", Default: "10", Max: "100"}, {Name: "tags", Default: "[]"}}},
		{Name: "mine", SQL: "SELECT {me:String} AS me", Params: []project.ParamSpec{{Name: "me", JWTClaim: &sub}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func serve(t *testing.T, h *Handler, target string, p *httpx.Principal) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	h.Register(mux, func(h http.Handler) http.Handler { return h })
	r := httptest.NewRequest("GET", target, nil)
	if p != nil {
		r = r.WithContext(httpx.WithPrincipal(r.Context(), p))
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestBindErrors(t *testing.T) {
	f := &fakeReader{res: &olap.Result{}}
	h, err := NewHandler(testProject(t), f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, target, want string
		status             int
	}{
		{"missing required", "/api/top?since=2024-01-01%2000:00:00", `missing required parameter \"name\"`, 400},
		{"unknown", "/api/top?since=2024-01-01%2000:00:00&name=x&zzz=1", `unknown parameter \"zzz\"`, 400},
		{"wrong type", "/api/top?since=2024-01-01%2000:00:00&name=x&limit=ten", `parameter \"limit\"`, 400},
		{"over max", "/api/top?since=2024-01-01%2000:00:00&name=x&limit=101", "above the maximum 100", 400},
		{"bad date", "/api/top?since=yesterday&name=x", `parameter \"since\"`, 400},
		{"repeated scalar", "/api/top?since=2024-01-01%2000:00:00&name=x&name=y", "given 2 times", 400},
		{"unknown api", "/api/nope", "no API named", 404},
		{"ok", "/api/top?since=2024-01-01T00:00:00%2B02:00&name=a%27b&tags=x&tags=y", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(t, h, tc.target, nil)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("got %d %s; want %d containing %q", w.Code, w.Body, tc.status, tc.want)
			}
		})
	}
	// The last case bound typed values, converted in Go.
	want := map[string]any{"since": time.Date(2023, 12, 31, 22, 0, 0, 0, time.UTC), "limit": uint64(10),
		"name": "a'b"}
	for _, p := range f.got {
		if w, ok := want[p.Name]; ok {
			if tm, isTime := w.(time.Time); isTime {
				if !p.Value.(time.Time).Equal(tm) {
					t.Errorf("%s = %v, want %v", p.Name, p.Value, w)
				}
			} else if p.Value != w {
				t.Errorf("%s = %#v, want %#v", p.Name, p.Value, w)
			}
		}
		if p.Name == "tags" && len(p.Value.([]any)) != 2 {
			t.Errorf("tags = %v", p.Value)
		}
	}
}

func TestClaimBoundParams(t *testing.T) {
	f := &fakeReader{res: &olap.Result{}}
	h, _ := NewHandler(testProject(t), f, Options{})
	if w := serve(t, h, "/api/mine", &httpx.Principal{Method: httpx.MethodAPIKey}); w.Code != 401 ||
		!strings.HasPrefix(w.Header().Get("Www-Authenticate"), "Bearer") {
		t.Fatalf("API-key caller: %d %v", w.Code, w.Header())
	}
	w := serve(t, h, "/consumption/mine", &httpx.Principal{Method: httpx.MethodJWT, Claims: map[string]any{"sub": "alice"}})
	if w.Code != 200 || len(f.got) != 1 || f.got[0].Value != "alice" {
		t.Fatalf("JWT caller: %d %s, params %v", w.Code, w.Body, f.got)
	}
	if w := serve(t, h, "/api/mine?me=bob", &httpx.Principal{Method: httpx.MethodJWT, Claims: map[string]any{"sub": "alice"}}); w.Code != 400 ||
		!strings.Contains(w.Body.String(), "bound from the verified token") {
		t.Fatalf("claim param from the query string: %d %s", w.Code, w.Body)
	}
	if w := serve(t, h, "/api/mine", &httpx.Principal{Method: httpx.MethodJWT, Claims: map[string]any{}}); w.Code != 400 {
		t.Fatalf("JWT without the claim: %d", w.Code)
	}
}

func TestEncodeRowsFaithfulTypes(t *testing.T) {
	res := &olap.Result{
		Columns: []olap.ColumnMeta{{Name: "ts", Type: "DateTime"}, {Name: "n", Type: "Int64"},
			{Name: "maybe", Type: "Nullable(DateTime64(3))"}, {Name: "q\"uote", Type: "String"}},
		Rows: [][]json.RawMessage{
			{json.RawMessage(`"2024-01-02 03:04:05"`), json.RawMessage(`-9223372036854775808`), json.RawMessage(`null`), json.RawMessage(`"x"`)},
			{json.RawMessage(`"2024-01-02 03:04:05"`), json.RawMessage(`1`), json.RawMessage(`"2024-01-02 03:04:05.123"`), json.RawMessage(`"y"`)},
		},
	}
	got := string(EncodeRows(res))
	want := `[{"ts":"2024-01-02T03:04:05Z","n":-9223372036854775808,"maybe":null,"q\"uote":"x"},` +
		`{"ts":"2024-01-02T03:04:05Z","n":1,"maybe":"2024-01-02T03:04:05.123Z","q\"uote":"y"}]` + "\n"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Fatal("invalid JSON")
	}
}

func TestEngineErrorIs500WithoutDetail(t *testing.T) {
	f := &fakeReader{err: olap.ErrBadQuery}
	h, _ := NewHandler(testProject(t), f, Options{})
	w := serve(t, h, "/api/top?since=2024-01-01%2000:00:00&name=x", nil)
	if w.Code != 500 || strings.Contains(w.Body.String(), "SELECT") || !strings.Contains(w.Body.String(), "request_id") {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
}
