package admin

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// planCases are pairs of project files; each plan is checked against
// testdata/plan/<name>.golden, and applying it must do exactly that plan.
var planCases = []struct {
	name     string
	from, to string
}{
	{"add-table", "", baseModels},
	{"add-column", baseModels, withX},
	{"change-type", baseModels, retyped},
	{"drop-column", withX, baseModels},
	{"add-api", baseModels, withAPI},
	{"change-api", withAPI, withAPIChanged},
	{"remove-api", withAPI, baseModels},
	{"version-and-dead-letter", baseModels, versioned},
	{"order-by-rebuild", baseModels, reordered},
	{"drop-model", baseModels + otherModel, otherModel},
	{"add-model-with-types", baseModels, baseModels + otherModel},
	{"model-setting", baseModels, extraFields},
	{"order-by-and-column", baseModels, reordered + `
  [[data_model.columns]]
  name = "x"
  type = "Float64"
`},
	{"no-changes", withAPI, withAPI},
}

func TestPlanGolden(t *testing.T) {
	for _, tc := range planCases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, mapOf(t, tc.from))
			p, err := f.svc.Plan(mapOf(t, tc.to))
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.MarshalIndent(p.Changes, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "plan/"+tc.name, append(b, '\n'))
			if f.mig.applies() != 0 {
				t.Error("Plan applied something")
			}
		})
	}
}

// TestApplyRunsThePlan: Apply runs exactly the DDL the plan showed, in the
// plan's order, and switches the map (style habit 18).
func TestApplyRunsThePlan(t *testing.T) {
	for _, tc := range planCases {
		t.Run(tc.name, func(t *testing.T) {
			from, to := mapOf(t, tc.from), mapOf(t, tc.to)
			f := newFixture(t, from)
			planned, err := f.svc.Plan(to)
			if err != nil {
				t.Fatal(err)
			}
			applied, err := f.svc.Apply(context.Background(), to, projectOf(t, tc.to), true)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stripped(planned.Changes), stripped(applied.Changes)) {
				t.Fatalf("Apply's plan differs from Plan's:\n%v\n%v", planned.Changes, applied.Changes)
			}
			var ranDDL, planDDL []string
			for _, c := range planned.Changes {
				if c.DDL != "" {
					planDDL = append(planDDL, c.DDL)
				}
			}
			for _, cs := range f.mig.applied {
				for _, c := range cs {
					ddl, _ := f.mig.DDL(c)
					ranDDL = append(ranDDL, ddl)
				}
			}
			if strings.Join(ranDDL, "\n") != strings.Join(planDDL, "\n") {
				t.Errorf("ran:\n%s\nplanned:\n%s", strings.Join(ranDDL, "\n"), strings.Join(planDDL, "\n"))
			}
			if f.cur.Load() != to {
				t.Error("the map was not switched")
			}
			// The engine now matches the map.
			diffs, err := f.svc.RealityCheck(context.Background())
			if err != nil || len(diffs) != 0 {
				t.Errorf("reality check after apply: %v %v", diffs, err)
			}
			// And a second plan is empty.
			again, err := f.svc.Plan(to)
			if err != nil || len(again.Changes) != 0 {
				t.Errorf("plan after apply: %v %v", again.Changes, err)
			}
		})
	}
}

func stripped(cs []Change) []Change {
	out := make([]Change, len(cs))
	for i, c := range cs {
		c.table = nil
		out[i] = c
	}
	return out
}

func TestApplyRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("destructive without allow", func(t *testing.T) {
		from := mapOf(t, withX)
		f := newFixture(t, from)
		p, err := f.svc.Apply(ctx, mapOf(t, retyped), projectOf(t, retyped), false)
		if !errors.Is(err, ErrDestructive) {
			t.Fatalf("err = %v, want ErrDestructive", err)
		}
		if d := p.Destructive(); len(d) != 2 || d[0].Object != "column PageView.n" || d[1].Object != "column PageView.x" {
			t.Errorf("destructive = %+v", d)
		}
		if f.mig.applies() != 0 || f.cur.Load() != from {
			t.Error("a refused apply changed something")
		}
	})
	t.Run("non-destructive without allow", func(t *testing.T) {
		f := newFixture(t, mapOf(t, baseModels))
		if _, err := f.svc.Apply(ctx, mapOf(t, withX), projectOf(t, withX), false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("busy", func(t *testing.T) {
		f := newFixture(t, mapOf(t, baseModels))
		f.mig.entered, f.mig.block = make(chan struct{}, 1), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := f.svc.Apply(ctx, mapOf(t, withX), nil, false)
			done <- err
		}()
		<-f.mig.entered
		if _, err := f.svc.Apply(ctx, mapOf(t, withAPI), nil, false); !errors.Is(err, ErrBusy) {
			t.Errorf("second apply: %v, want ErrBusy", err)
		}
		close(f.mig.block)
		if err := <-done; err != nil {
			t.Errorf("first apply: %v", err)
		}
		if got := f.cur.Load(); len(got.Tables[0].Columns) != 3 || len(got.APIRoutes) != 0 {
			t.Errorf("running map = %+v, want the first apply's", got)
		}
	})
	t.Run("engine failure keeps the map", func(t *testing.T) {
		from := mapOf(t, baseModels)
		f := newFixture(t, from)
		f.mig.fail = errors.New("disk full")
		_, err := f.svc.Apply(ctx, mapOf(t, withX), nil, false)
		if err == nil || !strings.Contains(err.Error(), "disk full") || f.cur.Load() != from {
			t.Errorf("err = %v, map switched = %v", err, f.cur.Load() != from)
		}
	})
	t.Run("commit failure", func(t *testing.T) {
		from := mapOf(t, baseModels)
		f := newFixture(t, from)
		f.commitFail = errors.New("no space for the map")
		_, err := f.svc.Apply(ctx, mapOf(t, withX), nil, false)
		if err == nil || !strings.Contains(err.Error(), "switching to the new map") || f.cur.Load() != from {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRealityCheck(t *testing.T) {
	ctx := context.Background()
	m := mapOf(t, withX)
	f := newFixture(t, m)
	f.mig.tables = append(f.mig.tables, mapOf(t, otherModel).Tables[0])
	f.mig.tables = append(f.mig.tables, m.Tables[0])
	f.mig.tables[0].Name = "_moose_infra_map" // moose's own: ignored
	diffs, err := f.svc.RealityCheck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(diffs, "", "  ")
	golden(t, "reality-check/extra-table", append(b, '\n'))

	// A column dropped behind the server's back.
	f = newFixture(t, m)
	f.mig.tables[0].Columns = f.mig.tables[0].Columns[:2]
	diffs, err = f.svc.RealityCheck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 1 || diffs[0].Kind != "add_column" || diffs[0].Object != "column PageView.x" {
		t.Errorf("diffs = %+v", diffs)
	}
	// A table dropped behind the server's back.
	f = newFixture(t, m)
	f.mig.tables = nil
	diffs, _ = f.svc.RealityCheck(ctx)
	if len(diffs) != 1 || diffs[0].Kind != "create_table" {
		t.Errorf("diffs = %+v", diffs)
	}
}
