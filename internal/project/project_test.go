package project

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/moose-go/moose/internal/olap"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
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
	if string(want) != string(got) {
		t.Errorf("%s differs (run go test -update after reviewing):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// loadOne loads a single fixture as if it were the only file of a project.
func loadOne(t *testing.T, path string) (*Project, []Warning, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return load(fstest.MapFS{filepath.Base(path): {Data: data}}, "")
}

func TestGoodFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.good.toml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, warns, err := loadOne(t, f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			out, err := json.MarshalIndent(struct {
				Project  *Project
				Tables   []olap.Table
				Warnings []Warning
			}{p, p.Tables(), warns}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".toml")+".json", append(out, '\n'))
		})
	}
}

func TestBadFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.bad.toml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, warns, err := loadOne(t, f)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", p)
			}
			if p != nil || warns != nil {
				t.Errorf("Load returned a project or warnings with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, filepath.Base(f)+": ") {
				t.Errorf("error does not start with the file name: %s", msg)
			}
			golden(t, strings.TrimSuffix(f, ".toml")+".err", []byte(msg+"\n"))
		})
	}
}

func TestLoadDir(t *testing.T) {
	p, warns, err := Load("testdata/multi/good")
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	var got []string
	for _, m := range p.Models {
		got = append(got, m.Name+"@"+filepath.ToSlash(m.File))
	}
	want := "A@testdata/multi/good/a.toml B@testdata/multi/good/b.toml SubA@testdata/multi/good/sub/a.toml"
	if strings.Join(got, " ") != want {
		t.Errorf("models = %v, want %s", got, want)
	}
	if m := p.Model("suba"); m == nil || m.Name != "SubA" {
		t.Errorf("Model(suba) = %v", m)
	}
	if p.Model("nope") != nil {
		t.Error("Model(nope) != nil")
	}
}

func TestLoadDirDuplicateAcrossFiles(t *testing.T) {
	_, _, err := Load("testdata/multi/dup_model")
	if err == nil {
		t.Fatal("no error")
	}
	want := filepath.Join("testdata", "multi", "dup_model", "two.toml") + `: data_model "a": table "a" collides with data_model "A" in ` +
		filepath.Join("testdata", "multi", "dup_model", "one.toml") + " (names match case-insensitively)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}

func TestLoadMissingDir(t *testing.T) {
	_, _, err := Load("testdata/does-not-exist")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadReportsAllProblems(t *testing.T) {
	fsys := fstest.MapFS{
		"a.toml": {Data: []byte("[[data_model]]\nname = \"A\"\n[[data_model.columns]]\nname = \"x\"\ntype = \"Strin\"\n")},
		"b.toml": {Data: []byte("[[api]]\nname = \"q\"\nsql = \"SELECT {a:Int}\"\n")},
	}
	_, _, err := load(fsys, "app")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join("app", "a.toml") + `: data_model "A": column "x": type: type "Strin": unknown type "Strin"`,
		filepath.Join("app", "b.toml") + `: api "q": sql: placeholder {a:Int}: type "Int": unknown type "Int"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.File != filepath.Join("app", "a.toml") {
		t.Errorf("errors.As(*Error) = %+v", pe)
	}
}

func TestDefaultsAndLookups(t *testing.T) {
	p, warns, err := loadOne(t, "testdata/good/pageview.good.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := p.Model("PAGEVIEW")
	if m == nil {
		t.Fatal("Model(PAGEVIEW) = nil")
	}
	if !m.Ingest || m.AllowExtraFields || !m.DeadLetter || m.Version != "1.0" {
		t.Errorf("model flags: %+v", m)
	}
	tbl := m.Table()
	if tbl.Name != "PageView" || len(tbl.Columns) != 4 || !tbl.Columns[3].Nullable || tbl.Columns[0].Nullable {
		t.Errorf("Table() = %+v", tbl)
	}
	dl := m.DeadLetterTable()
	if dl.Name != "PageView_dead_letter" || len(dl.Columns) != 4 || dl.OrderBy[0] != "received_at" ||
		dl.Columns[1].Type != "UInt32" {
		t.Errorf("DeadLetterTable() = %+v", dl)
	}
	a := p.API("TOP_PAGES", "")
	if a == nil {
		t.Fatal("API(TOP_PAGES) = nil")
	}
	if p.API("top_pages", "1") != nil {
		t.Error("API with a version that does not exist")
	}
	want := map[string]Param{
		"since": {Name: "since", Type: "DateTime", Required: true},
		"me":    {Name: "me", Type: "String", JWTClaim: "sub"},
		"limit": {Name: "limit", Type: "UInt32"},
	}
	if len(a.Params) != 3 || a.Params[0].Name != "since" || a.Params[1].Name != "me" || a.Params[2].Name != "limit" {
		t.Fatalf("params = %+v", a.Params)
	}
	for _, got := range a.Params {
		w := want[got.Name]
		if got.Type != w.Type || got.Required != w.Required || got.JWTClaim != w.JWTClaim {
			t.Errorf("param %s = %+v, want %+v", got.Name, got, w)
		}
	}
	if d := a.Params[2].Default; d == nil || *d != "10" {
		t.Errorf("limit default = %v", d)
	}
	if !p.Claims() {
		t.Error("Claims() = false")
	}
	if len(warns) != 2 {
		t.Errorf("warnings = %v, want one per jwt_claim", warns)
	}
	for _, w := range warns {
		if w.File != "pageview.good.toml" || !strings.Contains(w.Message, `JWT claim "sub"`) {
			t.Errorf("warning %+v", w)
		}
	}
}

func TestOrderByDefault(t *testing.T) {
	p, _, err := loadOne(t, "testdata/good/order_default.good.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Model("NoKey").OrderBy; len(got) != 0 {
		t.Errorf("NoKey order_by = %v, want empty (tuple())", got)
	}
	if got := strings.Join(p.Model("Keys").OrderBy, ","); got != "b,a" {
		t.Errorf("Keys order_by = %s, want b,a", got)
	}
}

func TestIsVersionAndIdentifier(t *testing.T) {
	for s, want := range map[string]bool{"1.0": true, "v2": true, "1.0-beta_3": true, "": false, ".": false,
		"..": false, "1/0": false, "1 0": false, "-1": false} {
		if IsVersion(s) != want {
			t.Errorf("IsVersion(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"a": true, "_a1": true, "PageView": true, "": false, "1a": false,
		"a-b": false, "a.b": false, "é": false} {
		if IsIdentifier(s) != want {
			t.Errorf("IsIdentifier(%q) = %v", s, !want)
		}
	}
}

func TestSpecRoundTrip(t *testing.T) {
	p, _, err := Load("../../examples/quickstart/app")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p.Spec())
	if err != nil {
		t.Fatal(err)
	}
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	q, _, err := FromSpec("infra_map", s)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Project{p, q} {
		for _, m := range x.Models {
			m.File = ""
		}
		for _, a := range x.APIs {
			a.File = ""
		}
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip differs:\n%+v\n%+v", p, q)
	}
	// A bad spec fails with the loader's errors, naming the source.
	s.DataModels[0].Columns[0].Type = "Strin"
	if _, _, err := FromSpec("infra_map", s); err == nil || !strings.Contains(err.Error(), "infra_map") {
		t.Fatalf("bad spec: err = %v", err)
	}
}
