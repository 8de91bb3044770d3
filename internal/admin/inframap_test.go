package admin

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMapFromProjectGolden(t *testing.T) {
	m := mapOf(t, versioned+otherModel+`
[[api]]
name = "views"
version = "2"
sql = "SELECT count() AS n FROM PageView WHERE n >= {min_n:Int64} AND id = {me:String}"
  [[api.params]]
  name = "min_n"
  default = "0"
  min = "0"
  max = "100"
  [[api.params]]
  name = "me"
  jwt_claim = "sub"
`)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "inframap/example", append(b, '\n'))
}

func TestDecodeMapRoundTrip(t *testing.T) {
	for _, models := range []string{"", baseModels, withX, withAPI, versioned + otherModel} {
		m := mapOf(t, models)
		got, p, err := DecodeMap(mustJSON(t, m))
		if err != nil {
			t.Fatalf("%s: %v", models, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip differs:\n%+v\n%+v", got, m)
		}
		if got.Digest() != m.Digest() || p == nil {
			t.Error("digest changed or no project")
		}
	}
}

// TestDecodeMapRecomputesDerived: tables and routes in a submitted map are
// informational; the server derives them again from the models.
func TestDecodeMapRecomputesDerived(t *testing.T) {
	m := mapOf(t, baseModels)
	var raw map[string]any
	json.Unmarshal(mustJSON(t, m), &raw)
	raw["tables"] = []any{map[string]any{"name": "Evil", "columns": []any{}, "order_by": []any{}}}
	raw["ingest_routes"] = []any{map[string]any{"path": "/ingest/Evil", "model": "Evil", "table": "Evil"}}
	raw["api_routes"] = []any{}
	got, _, err := DecodeMap(mustJSON(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("derived parts were trusted:\n%+v", got)
	}
}

func TestDigestIgnoresDerived(t *testing.T) {
	a, b := mapOf(t, baseModels), mapOf(t, baseModels)
	b.Tables = nil
	b.IngestRoutes = nil
	if a.Digest() != b.Digest() {
		t.Error("digest depends on derived parts")
	}
	if a.Digest() == mapOf(t, withX).Digest() {
		t.Error("digest ignores a new column")
	}
}

func TestDecodeMapErrors(t *testing.T) {
	good := string(mustJSON(t, mapOf(t, baseModels)))
	model := func(cols string) string {
		return `{"version":1,"data_models":[{"name":"T","columns":[` + cols + `]}],"apis":[]}`
	}
	cases := []struct {
		name, raw string
		want      string
	}{
		{"empty", ``, "infra_map is missing"},
		{"null", `null`, "infra_map is missing"},
		{"not an object", `[1,2]`, "cannot unmarshal array"},
		{"not JSON", `{"version":`, "unexpected EOF"},
		{"trailing data", good + ` {}`, "trailing data after the map"},
		{"unknown field", `{"version":1,"data_models":[],"apis":[],"extra":1}`, `unknown field "extra"`},
		{"unknown model field", `{"version":1,"data_models":[{"name":"T","colums":[]}]}`, `unknown field "colums"`},
		{"no version", `{"data_models":[],"apis":[]}`, "version 0, this server reads version 1"},
		{"future version", `{"version":2,"data_models":[],"apis":[]}`, "version 2, this server reads version 1"},
		{"bad type", model(`{"name":"a","type":"Strin"}`), "Strin"},
		{"bad column name", model(`{"name":"a b","type":"String"}`), "a b"},
		{"duplicate column", model(`{"name":"a","type":"String"},{"name":"a","type":"String"}`), `"a"`},
		{"no columns", `{"version":1,"data_models":[{"name":"T"}]}`, "T"},
		{"api on missing param type", `{"version":1,"data_models":[],"apis":[{"name":"a","sql":"SELECT {x}"}]}`, "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, p, err := DecodeMap(json.RawMessage(tc.raw))
			if err == nil {
				t.Fatalf("no error; map %+v", m)
			}
			if m != nil || p != nil {
				t.Error("a map came back with the error")
			}
			if !errors.Is(err, ErrBadMap) {
				t.Errorf("error %v does not wrap ErrBadMap", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
