package admin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/project"
)

// FormatVersion is the infrastructure map's format; a map with another
// version is refused.
const FormatVersion = 1

// InfraMap is the whole of what a project deploys, as one JSON document:
// the data models and APIs exactly as the project files declare them
// (project.Spec, same keys), plus what they derive to (tables, routes),
// which is informational: on input it is recomputed, never trusted.
type InfraMap struct {
	Version int `json:"version"`
	project.Spec
	Tables       []olap.Table  `json:"tables"`
	IngestRoutes []IngestRoute `json:"ingest_routes"`
	APIRoutes    []APIRoute    `json:"api_routes"`
}

// IngestRoute is one POST /ingest route.
type IngestRoute struct {
	Path  string `json:"path"`
	Model string `json:"model"`
	Table string `json:"table"`
}

// APIRoute is one analytics API with its parameters.
type APIRoute struct {
	Path   string     `json:"path"`
	Name   string     `json:"name"`
	SQL    string     `json:"sql"`
	Params []APIParam `json:"params"`
}

// APIParam describes one parameter of an API route.
type APIParam struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Required bool    `json:"required"`
	Default  *string `json:"default,omitempty"`
	Min      *string `json:"min,omitempty"`
	Max      *string `json:"max,omitempty"`
	JWTClaim string  `json:"jwt_claim,omitempty"`
}

// MapFromProject derives the map of a loaded project.
func MapFromProject(p *project.Project) *InfraMap {
	m := &InfraMap{Version: FormatVersion, Spec: p.Spec(), Tables: p.Tables(),
		IngestRoutes: []IngestRoute{}, APIRoutes: []APIRoute{}}
	if m.Tables == nil {
		m.Tables = []olap.Table{}
	}
	for _, md := range p.Models {
		if !md.Ingest {
			continue
		}
		m.IngestRoutes = append(m.IngestRoutes, IngestRoute{Path: "/ingest/" + md.Name, Model: md.Name, Table: md.Name})
		if md.Version != "" {
			m.IngestRoutes = append(m.IngestRoutes, IngestRoute{Path: "/ingest/" + md.Name + "/" + md.Version, Model: md.Name, Table: md.Name})
		}
	}
	for _, a := range p.APIs {
		path := "/api/" + a.Name
		if a.Version != "" {
			path += "/" + a.Version
		}
		r := APIRoute{Path: path, Name: a.Name, SQL: a.SQL, Params: []APIParam{}}
		for _, prm := range a.Params {
			r.Params = append(r.Params, APIParam{Name: prm.Name, Type: prm.Type, Required: prm.Required,
				Default: prm.Default, Min: prm.Min, Max: prm.Max, JWTClaim: prm.JWTClaim})
		}
		m.APIRoutes = append(m.APIRoutes, r)
	}
	return m
}

// Digest identifies the map's models and APIs (not the derived parts).
func (m *InfraMap) Digest() string {
	b, _ := json.Marshal(m.Spec)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ErrBadMap is wrapped by every problem with a submitted map.
var ErrBadMap = errors.New("invalid infrastructure map")

// DecodeMap reads a map strictly (unknown fields are errors), validates its
// models and APIs with the project-file rules and returns the project it
// describes, with the derived parts recomputed.
func DecodeMap(raw json.RawMessage) (*InfraMap, *project.Project, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil, fmt.Errorf("%w: infra_map is missing", ErrBadMap)
	}
	var m InfraMap
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadMap, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("%w: trailing data after the map", ErrBadMap)
	}
	if m.Version != FormatVersion {
		return nil, nil, fmt.Errorf("%w: version %d, this server reads version %d", ErrBadMap, m.Version, FormatVersion)
	}
	p, _, err := project.FromSpec("infra_map", m.Spec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadMap, err)
	}
	return MapFromProject(p), p, nil
}
