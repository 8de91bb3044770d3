package project

// Spec is a project as data: the data models and APIs exactly as the
// project files declare them (same keys), for the infrastructure map.
type Spec struct {
	DataModels []ModelSpec `json:"data_models"`
	APIs       []APISpec   `json:"apis"`
}

// FromSpec validates s with the rules Load applies to files and returns
// the project. source names the origin in errors (e.g. "infra_map").
func FromSpec(source string, s Spec) (*Project, []Warning, error) {
	l := &loader{p: &Project{}}
	for i := range s.DataModels {
		if m := l.model(source, i, &s.DataModels[i]); m != nil {
			l.p.Models = append(l.p.Models, m)
		}
	}
	for i := range s.APIs {
		if a := l.api(source, i, &s.APIs[i]); a != nil {
			l.p.APIs = append(l.p.APIs, a)
		}
	}
	return l.result()
}

// Spec returns the project as data; FromSpec(p.Spec()) gives back an
// equal project.
func (p *Project) Spec() Spec {
	s := Spec{DataModels: []ModelSpec{}, APIs: []APISpec{}}
	for _, m := range p.Models {
		ms := ModelSpec{Name: m.Name, OrderBy: append([]string{}, m.OrderBy...), Ingest: ptr(m.Ingest),
			AllowExtraFields: m.AllowExtraFields, DeadLetter: m.DeadLetter}
		if m.Version != "" {
			ms.Version = ptr(m.Version)
		}
		for _, c := range m.Columns {
			cs := ColumnSpec{Name: c.Name, Type: c.Type, Key: c.Key, Required: ptr(c.Required)}
			if c.JWTClaim != "" {
				cs.JWTClaim = ptr(c.JWTClaim)
			}
			ms.Columns = append(ms.Columns, cs)
		}
		s.DataModels = append(s.DataModels, ms)
	}
	for _, a := range p.APIs {
		as := APISpec{Name: a.Name, SQL: a.SQL}
		if a.Version != "" {
			as.Version = ptr(a.Version)
		}
		for _, prm := range a.Params {
			if prm.Default == nil && prm.Min == nil && prm.Max == nil && prm.JWTClaim == "" {
				continue // inferred from the SQL
			}
			ps := ParamSpec{Name: prm.Name}
			if prm.Default != nil {
				ps.Default = *prm.Default
			}
			if prm.Min != nil {
				ps.Min = *prm.Min
			}
			if prm.Max != nil {
				ps.Max = *prm.Max
			}
			if prm.JWTClaim != "" {
				ps.JWTClaim = ptr(prm.JWTClaim)
			}
			as.Params = append(as.Params, ps)
		}
		s.APIs = append(s.APIs, as)
	}
	return s
}

func ptr[T any](v T) *T { return &v }
