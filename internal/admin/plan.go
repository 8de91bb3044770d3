package admin

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/project"
)

// Change is one step of a plan, as shown to people and scripts.
type Change struct {
	Kind        string `json:"kind"`   // create_table, add_column, ..., add_api, remove_api, change_api, add_ingest_route, remove_ingest_route, change_model
	Object      string `json:"object"` // "table PageView", "column PageView.x", "api top_pages", "route /ingest/PageView"
	Destructive bool   `json:"destructive"`
	DDL         string `json:"ddl,omitempty"`

	table *olap.Change
}

// Plan is the list of changes between two maps.
type Plan struct {
	Changes []Change `json:"changes"`
}

// Destructive lists the changes that can lose data.
func (p *Plan) Destructive() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Destructive {
			out = append(out, c)
		}
	}
	return out
}

// Sentinel errors of Apply.
var (
	ErrDestructive = errors.New("the plan has destructive changes")
	ErrBusy        = errors.New("another apply is running")
)

// TableView maps a project table to what the engine really holds (for
// example Bool stored as UInt8 on old servers, or Kafka offset columns).
type TableView func(olap.Table) olap.Table

// Commit makes a new map live: swap routes, persist the map.
type Commit func(ctx context.Context, m *InfraMap, p *project.Project) error

// Service plans and applies maps against one engine.
type Service struct {
	mig     olap.Migrator
	view    TableView
	current func() *InfraMap
	commit  Commit
	mu      sync.Mutex // held by a running apply
}

// NewService returns a Service. view may be nil.
func NewService(mig olap.Migrator, view TableView, current func() *InfraMap, commit Commit) *Service {
	if view == nil {
		view = func(t olap.Table) olap.Table { return t }
	}
	return &Service{mig: mig, view: view, current: current, commit: commit}
}

// Current is the running map.
func (s *Service) Current() *InfraMap { return s.current() }

// Plan computes the changes from the running map to next: the same function
// Apply runs, with execution switched off.
func (s *Service) Plan(next *InfraMap) (*Plan, error) {
	return s.plan(s.current(), next)
}

func (s *Service) views(ts []olap.Table) []olap.Table {
	out := make([]olap.Table, len(ts))
	for i, t := range ts {
		out[i] = s.view(t)
	}
	return out
}

func (s *Service) plan(from, to *InfraMap) (*Plan, error) {
	p := &Plan{Changes: []Change{}}
	var fromTables []olap.Table
	if from != nil {
		fromTables = from.Tables
	}
	for _, tc := range Diff(s.views(fromTables), s.views(to.Tables), true) {
		ddl, err := s.mig.DDL(tc)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", tc.Kind, tc.Table.Name, err)
		}
		obj := "table " + tc.Table.Name
		if tc.Column != nil {
			obj = "column " + tc.Table.Name + "." + tc.Column.Name
		}
		tc := tc
		p.Changes = append(p.Changes, Change{Kind: string(tc.Kind), Object: obj, Destructive: tc.Destructive(), DDL: ddl, table: &tc})
	}
	var fromRoutes []IngestRoute
	var fromAPIs []APIRoute
	if from != nil {
		fromRoutes, fromAPIs = from.IngestRoutes, from.APIRoutes
	}
	had := map[string]bool{}
	for _, r := range fromRoutes {
		had[r.Path] = true
	}
	has := map[string]bool{}
	for _, r := range to.IngestRoutes {
		has[r.Path] = true
		if !had[r.Path] {
			p.Changes = append(p.Changes, Change{Kind: "add_ingest_route", Object: "route POST " + r.Path})
		}
	}
	for _, r := range fromRoutes {
		if !has[r.Path] {
			p.Changes = append(p.Changes, Change{Kind: "remove_ingest_route", Object: "route POST " + r.Path})
		}
	}
	if from != nil {
		p.Changes = append(p.Changes, modelChanges(from, to, p.Changes)...)
	}
	old := map[string]APIRoute{}
	for _, a := range fromAPIs {
		old[a.Path] = a
	}
	seen := map[string]bool{}
	for _, a := range to.APIRoutes {
		seen[a.Path] = true
		o, ok := old[a.Path]
		switch {
		case !ok:
			p.Changes = append(p.Changes, Change{Kind: "add_api", Object: "api GET " + a.Path})
		case !reflect.DeepEqual(o, a):
			p.Changes = append(p.Changes, Change{Kind: "change_api", Object: "api GET " + a.Path})
		}
	}
	for _, a := range fromAPIs {
		if !seen[a.Path] {
			p.Changes = append(p.Changes, Change{Kind: "remove_api", Object: "api GET " + a.Path})
		}
	}
	return p, nil
}

// modelChanges lists the models whose declaration changed in a way that no
// table or route change shows (allow_extra_fields, jwt_claim, ...): apply
// switches to them, so the plan says so.
func modelChanges(from, to *InfraMap, shown []Change) []Change {
	touched := map[string]bool{}
	for _, c := range shown {
		if c.table != nil {
			touched[c.table.Table.Name] = true
		}
	}
	for _, r := range from.IngestRoutes {
		touched[r.Model] = touched[r.Model] || !slices.ContainsFunc(to.IngestRoutes, func(x IngestRoute) bool { return x.Path == r.Path })
	}
	for _, r := range to.IngestRoutes {
		touched[r.Model] = touched[r.Model] || !slices.ContainsFunc(from.IngestRoutes, func(x IngestRoute) bool { return x.Path == r.Path })
	}
	old := map[string]project.ModelSpec{}
	for _, m := range from.DataModels {
		old[m.Name] = m
	}
	var out []Change
	for _, m := range to.DataModels {
		if o, ok := old[m.Name]; ok && !touched[m.Name] && !reflect.DeepEqual(o, m) {
			out = append(out, Change{Kind: "change_model", Object: "model " + m.Name})
		}
	}
	return out
}

// Apply plans from the running map to next and, unless the plan has
// destructive changes and allowDestructive is false (ErrDestructive, with
// the plan), runs its DDL and commits the new map. A second Apply while
// one runs gets ErrBusy at once.
func (s *Service) Apply(ctx context.Context, next *InfraMap, p *project.Project, allowDestructive bool) (*Plan, error) {
	if !s.mu.TryLock() {
		return nil, ErrBusy
	}
	defer s.mu.Unlock()
	plan, err := s.plan(s.current(), next)
	if err != nil {
		return nil, err
	}
	if len(plan.Destructive()) > 0 && !allowDestructive {
		return plan, ErrDestructive
	}
	var ddl []olap.Change
	for _, c := range plan.Changes {
		if c.table != nil {
			ddl = append(ddl, *c.table)
		}
	}
	if err := s.mig.Apply(ctx, ddl); err != nil {
		return plan, fmt.Errorf("applying the plan: %w", err)
	}
	if err := s.commit(ctx, next, p); err != nil {
		return plan, fmt.Errorf("switching to the new map: %w", err)
	}
	return plan, nil
}

// RealityCheck lists the changes that would bring the engine's tables to
// the running map's (nil when they agree). Tables that no model declares
// and whose names start with "_moose" are moose's own and ignored.
func (s *Service) RealityCheck(ctx context.Context) ([]Change, error) {
	real, err := s.mig.Tables(ctx)
	if err != nil {
		return nil, err
	}
	var mine []olap.Table
	for _, t := range real {
		if len(t.Name) >= 6 && t.Name[:6] == "_moose" {
			continue
		}
		mine = append(mine, t)
	}
	cur := s.current()
	out := []Change{}
	for _, tc := range Diff(mine, s.views(cur.Tables), true) {
		obj := "table " + tc.Table.Name
		if tc.Column != nil {
			obj = "column " + tc.Table.Name + "." + tc.Column.Name
		}
		ddl, _ := s.mig.DDL(tc)
		out = append(out, Change{Kind: string(tc.Kind), Object: obj, Destructive: tc.Destructive(), DDL: ddl})
	}
	return out, nil
}
