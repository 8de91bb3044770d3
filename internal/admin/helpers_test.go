package admin

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
	"github.com/moose-go/moose/internal/project"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/<name>.golden (-update rewrites it).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// fakeMigrator renders real (modern dialect) DDL, keeps a table list that
// Apply really changes, and can block or fail.
type fakeMigrator struct {
	mu      sync.Mutex
	tables  []olap.Table
	applied [][]olap.Change
	fail    error
	entered chan struct{} // if set, Apply signals here on entry
	block   chan struct{} // if set, Apply waits for it to close
}

func (m *fakeMigrator) Tables(context.Context) ([]olap.Table, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]olap.Table(nil), m.tables...), nil
}

func (m *fakeMigrator) DDL(c olap.Change) (string, error) { return chsql.Modern.DDL("", c) }

func (m *fakeMigrator) Apply(_ context.Context, cs []olap.Change) error {
	if m.entered != nil {
		m.entered <- struct{}{}
	}
	if m.block != nil {
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.applied = append(m.applied, cs)
	for _, c := range cs {
		i := -1
		for j, t := range m.tables {
			if t.Name == c.Table.Name {
				i = j
			}
		}
		switch c.Kind {
		case olap.CreateTable:
			if i < 0 {
				m.tables = append(m.tables, c.Table)
			}
		case olap.DropTable:
			if i >= 0 {
				m.tables = append(m.tables[:i], m.tables[i+1:]...)
			}
		default:
			if i >= 0 {
				t := m.tables[i]
				t.Columns = append([]olap.Column(nil), c.Table.Columns...)
				m.tables[i] = t
			}
		}
	}
	return nil
}

func (m *fakeMigrator) applies() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.applied)
}

// fixture is a Service over a fakeMigrator whose running map starts as
// from; commit swaps it (and can fail).
type fixture struct {
	svc        *Service
	mig        *fakeMigrator
	cur        atomic.Pointer[InfraMap]
	commitFail error
}

func newFixture(t *testing.T, from *InfraMap) *fixture {
	t.Helper()
	f := &fixture{mig: &fakeMigrator{tables: append([]olap.Table(nil), from.Tables...)}}
	f.cur.Store(from)
	f.svc = NewService(f.mig, nil, func() *InfraMap { return f.cur.Load() },
		func(_ context.Context, m *InfraMap, _ *project.Project) error {
			if f.commitFail != nil {
				return f.commitFail
			}
			f.cur.Store(m)
			return nil
		})
	return f
}

// mapOf loads a project from the text of one models file.
func mapOf(t *testing.T, models string) *InfraMap {
	t.Helper()
	return MapFromProject(projectOf(t, models))
}

func projectOf(t *testing.T, models string) *project.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "models.toml"), []byte(models), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, err := project.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var baseModels = planFixture("base.toml")

var withX = planFixture("with-x.toml")

var retyped = planFixture("retyped.toml")

var withAPI = planFixture("with-api.toml")

var withAPIChanged = baseModels + `
[[api]]
name = "views"
sql = "SELECT count() AS n FROM PageView WHERE n >= {min_n:Int64}"
  [[api.params]]
  name = "min_n"
  default = "5"
`

const versioned = `
[[data_model]]
name = "PageView"
version = "1.1"
order_by = ["id"]
dead_letter = true
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "n"
  type = "Int64"
`

const reordered = `
[[data_model]]
name = "PageView"
order_by = ["n"]
  [[data_model.columns]]
  name = "id"
  type = "String"
  [[data_model.columns]]
  name = "n"
  type = "Int64"
`

const otherModel = `
[[data_model]]
name = "Click"
  [[data_model.columns]]
  name = "id"
  type = "UUID"
  key = true
  [[data_model.columns]]
  name = "at"
  type = "DateTime64(3)"
  [[data_model.columns]]
  name = "tags"
  type = "Array(LowCardinality(String))"
`

const extraFields = `
[[data_model]]
name = "PageView"
order_by = ["id"]
allow_extra_fields = true
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "n"
  type = "Int64"
`

// planFixture reads a shared plan fixture (internal/admin/testdata/projects).
func planFixture(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata/projects", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}
