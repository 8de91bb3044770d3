package openapi

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/moose-go/moose/internal/admin"
	"github.com/moose-go/moose/internal/project"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func loadProject(t *testing.T, dir string) *project.Project {
	t.Helper()
	p, _, err := project.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generated document (run go test ./internal/openapi -update and review the diff)\n--- got:\n%s", path, got)
	}
}

// validate loads the document with kin-openapi and checks it against the
// OpenAPI 3.0 rules.
func validate(t *testing.T, b []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("kin-openapi cannot load the document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("kin-openapi: the document is invalid: %v", err)
	}
	return doc
}

func TestGenerateGolden(t *testing.T) {
	p := loadProject(t, filepath.Join("testdata", "app"))
	b, err := Generate(p, Options{Title: "test project", Version: "1.2.3", PathPrefix: "/moose/"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "app.golden.yaml", b)
	doc := validate(t, b)
	if doc.OpenAPI != "3.0.3" || doc.Info.Title != "test project" || doc.Info.Version != "1.2.3" {
		t.Errorf("header: openapi %q title %q version %q", doc.OpenAPI, doc.Info.Title, doc.Info.Version)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/moose" {
		t.Errorf("servers: %+v", doc.Servers)
	}

	// Every route the server serves is listed, with the right method.
	m := admin.MapFromProject(p)
	want := map[string]string{}
	for _, r := range m.IngestRoutes {
		want[r.Path] = "POST"
	}
	for _, r := range m.APIRoutes {
		want[r.Path] = "GET"
		want["/consumption"+strings.TrimPrefix(r.Path, "/api")] = "GET"
	}
	// by_day/2.1-beta is the first version with no unversioned sibling: the
	// server serves it at the bare name too.
	want["/api/by_day"], want["/consumption/by_day"] = "GET", "GET"
	var got []string
	for path, item := range doc.Paths.Map() {
		got = append(got, path)
		method, ok := want[path]
		if !ok {
			t.Errorf("unexpected path %s", path)
			continue
		}
		if item.GetOperation(method) == nil || len(item.Operations()) != 1 {
			t.Errorf("%s: want only %s, got %v", path, method, slices.Collect(mapKeys(item.Operations())))
		}
	}
	if len(got) != len(want) {
		t.Errorf("paths: got %v, want %v", got, want)
	}
	if _, ok := want["/ingest/Internal"]; ok {
		t.Error("a model with ingest = false must have no route")
	}

	t.Run("ingest body", func(t *testing.T) {
		s := doc.Components.Schemas["PageView"].Value
		if s == nil {
			t.Fatal("no PageView schema")
		}
		if _, ok := s.Properties["user_id"]; ok {
			t.Error("claim-bound column user_id must not be a property")
		}
		if !slices.Equal(s.Required, []string{"id", "ts"}) {
			t.Errorf("required = %v, want [id ts]", s.Required)
		}
		if d := s.Properties["duration_ms"].Value; !d.Nullable || !d.Type.Is("number") {
			t.Errorf("duration_ms: %+v", d)
		}
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			t.Error("PageView: additionalProperties must be false")
		}
		all := doc.Components.Schemas["AllTypes"].Value
		if all.AdditionalProperties.Has == nil || !*all.AdditionalProperties.Has {
			t.Error("AllTypes (allow_extra_fields): additionalProperties must be true")
		}
		for _, c := range []struct {
			col, typ, format string
			min, max         float64
		}{
			{"i8", "integer", "int32", -128, 127},
			{"i16", "integer", "int32", -32768, 32767},
			{"i32", "integer", "int32", -2147483648, 2147483647},
			{"i64", "integer", "int64", -9223372036854775808, 9223372036854775807},
			{"u8", "integer", "int32", 0, 255},
			{"u16", "integer", "int32", 0, 65535},
			{"u32", "integer", "int64", 0, 4294967295},
			{"u64", "integer", "", 0, 18446744073709551615},
			{"f32", "number", "float", 0, 0},
			{"b", "boolean", "", 0, 0},
			{"d", "string", "date", 0, 0},
			{"dt", "string", "date-time", 0, 0},
			{"dt64", "string", "date-time", 0, 0},
			{"u", "string", "uuid", 0, 0},
			{"tags", "array", "", 0, 0},
		} {
			v := all.Properties[c.col].Value
			if v == nil || !v.Type.Is(c.typ) || v.Format != c.format {
				t.Errorf("%s: want %s/%s, got %+v", c.col, c.typ, c.format, v)
				continue
			}
			if c.min != 0 || c.max != 0 {
				if v.Min == nil || v.Max == nil || *v.Min != c.min || *v.Max != c.max {
					t.Errorf("%s: want range %v..%v, got %v..%v", c.col, c.min, c.max, v.Min, v.Max)
				}
			}
		}
		if dec := all.Properties["dec"].Value; len(dec.OneOf) != 2 || !dec.Nullable {
			t.Errorf("dec: want oneOf number|string, nullable: %+v", dec)
		}
		body := doc.Paths.Find("/ingest/PageView/1.0").Post.RequestBody.Value.Content["application/json"].Schema.Value
		if len(body.OneOf) != 2 || !body.OneOf[1].Value.Type.Is("array") {
			t.Errorf("request body: want oneOf(object, array of object), got %+v", body)
		}
		resp := doc.Paths.Find("/ingest/AllTypes").Post.Responses
		for _, code := range []string{"200", "400", "401", "413"} {
			if resp.Value(code) == nil {
				t.Errorf("POST /ingest/AllTypes: no %s response", code)
			}
		}
	})

	t.Run("api params", func(t *testing.T) {
		op := doc.Paths.Find("/api/top_pages").Get
		if len(op.Parameters) != 2 {
			t.Fatalf("top_pages: want since and limit (me is claim-bound), got %d params", len(op.Parameters))
		}
		if op.Parameters.GetByInAndName("query", "me") != nil {
			t.Error("claim-bound param me must not be listed")
		}
		lim := op.Parameters.GetByInAndName("query", "limit")
		if lim.Required || *lim.Schema.Value.Min != 1 || *lim.Schema.Value.Max != 1000 || fmt.Sprint(lim.Schema.Value.Default) != "10" {
			t.Errorf("limit: %+v", lim.Schema.Value)
		}
		if since := op.Parameters.GetByInAndName("query", "since"); !since.Required || since.Schema.Value.Format != "date-time" {
			t.Errorf("since: want required date-time, got %+v", since)
		}
		for _, code := range []string{"200", "400", "401", "500"} {
			if op.Responses.Value(code) == nil {
				t.Errorf("GET /api/top_pages: no %s response", code)
			}
		}
		if !op.Responses.Value("200").Value.Content["application/json"].Schema.Value.Type.Is("array") {
			t.Error("200: want an array")
		}
		bd := doc.Paths.Find("/consumption/by_day/2.1-beta").Get
		ids := bd.Parameters.GetByInAndName("query", "ids")
		if !ids.Schema.Value.Type.Is("array") || ids.Explode == nil || !*ids.Explode || ids.Required {
			t.Errorf("ids: want an optional exploded array, got %+v", ids.Schema.Value)
		}
		if d := bd.Parameters.GetByInAndName("query", "day").Schema.Value; d.Default != "2024-02-03" || d.Format != "date" {
			t.Errorf("day: %+v", d)
		}
		if to := bd.Parameters.GetByInAndName("query", "to"); !to.Required {
			t.Error("to: want required")
		}
	})
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestGenerateEmptyAndQuickstart(t *testing.T) {
	for _, dir := range []string{filepath.Join("..", "project", "testdata", "good"), filepath.Join("..", "..", "examples", "quickstart", "app")} {
		t.Run(dir, func(t *testing.T) {
			b, err := Generate(loadProject(t, dir), Options{})
			if err != nil {
				t.Fatal(err)
			}
			validate(t, b)
		})
	}
	t.Run("no models", func(t *testing.T) {
		b, err := Generate(&project.Project{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		validate(t, b)
	})
}

func TestGenerateDeterministic(t *testing.T) {
	p := loadProject(t, filepath.Join("testdata", "app"))
	a, _ := Generate(p, Options{})
	b, _ := Generate(p, Options{})
	if !bytes.Equal(a, b) {
		t.Error("two runs differ")
	}
}

func TestOperationIDsUnique(t *testing.T) {
	p := &project.Project{APIs: []*project.API{
		{Name: "x", Version: "1.0", SQL: "SELECT 1"},
		{Name: "x", Version: "1_0", SQL: "SELECT 1"},
	}}
	b, err := Generate(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := validate(t, b) // kin-openapi refuses duplicate operationIds
	if doc.Paths.Find("/api/x") == nil || doc.Paths.Find("/api/x/1_0") == nil {
		t.Errorf("paths: %v", doc.Paths.InMatchingOrder())
	}
}
