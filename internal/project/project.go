package project

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moose-go/moose/internal/olap"
)

// Project is every data model and API declared under a source dir, in file
// order (files sorted by path, declarations in the order they appear).
// It is read-only once Load returns.
type Project struct {
	Models []*Model
	APIs   []*API
}

// Model is one [[data_model]]: a table and, unless Ingest is false, its
// ingest route POST /ingest/<Name> (and /ingest/<Name>/<Version>).
type Model struct {
	Name    string
	Version string // "" when not versioned
	Columns []Column
	// OrderBy is the sorting key. Default: the key columns in declaration
	// order, else empty (tuple()).
	OrderBy          []string
	Ingest           bool // default true
	AllowExtraFields bool // default false: unknown JSON fields are a 400
	DeadLetter       bool // default false: rejected records go to <Name>_dead_letter
	File             string
}

// Column is one model column.
type Column struct {
	Name string
	// Type is the canonical type text (see Type.String), never Nullable.
	Type string
	Key  bool
	// Required is true by default; false makes the column Nullable, and an
	// absent or null field is stored as NULL.
	Required bool
	// JWTClaim, when set, names the verified-token claim that fills the
	// column; clients must not send it.
	JWTClaim string
}

// API is one [[api]]: GET /api/<Name> and /consumption/<Name>.
type API struct {
	Name    string
	Version string // "" when not versioned
	SQL     string
	// Params holds one entry per distinct {name:Type} placeholder, in order
	// of first appearance.
	Params []Param
	File   string
}

// Param is one API parameter. Default, Min and Max are texts that
// Type.ParseValue accepts for the parameter's type (checked at load).
type Param struct {
	Name string
	// Type is the canonical type text of the placeholder.
	Type    string
	Default *string
	Min     *string
	Max     *string
	// Required is true when the query string must supply the parameter: it
	// has no default and is not bound from a JWT claim.
	Required bool
	// JWTClaim, when set, binds the parameter from the verified token; the
	// query string can never set it.
	JWTClaim string
}

// Warning is a problem that does not stop start-up.
type Warning struct {
	File    string
	Message string
}

func (w Warning) String() string { return w.File + ": " + w.Message }

// ErrInvalid is wrapped by every *Error, so callers can test for a project
// definition problem with errors.Is.
var ErrInvalid = errors.New("invalid project definition")

// Error is one problem in a project file. Field locates it, e.g.
// `data_model "PageView": column "ts": type` or `api "top_pages": params`.
type Error struct {
	File   string
	Field  string
	Reason string
}

func (e *Error) Error() string {
	s := e.File + ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// Model returns the model named name, matched case-insensitively as ingest
// routes are, or nil.
func (p *Project) Model(name string) *Model {
	for _, m := range p.Models {
		if strings.EqualFold(m.Name, name) {
			return m
		}
	}
	return nil
}

// API returns the API with this name (matched case-insensitively) and
// exactly this version ("" for the unversioned one), or nil.
func (p *Project) API(name, version string) *API {
	for _, a := range p.APIs {
		if strings.EqualFold(a.Name, name) && a.Version == version {
			return a
		}
	}
	return nil
}

// Column returns the column named name (case-sensitive), or nil.
func (m *Model) Column(name string) *Column {
	for i := range m.Columns {
		if m.Columns[i].Name == name {
			return &m.Columns[i]
		}
	}
	return nil
}

// Table is the model's table: its columns (Nullable when not required) and
// sorting key.
func (m *Model) Table() olap.Table {
	t := olap.Table{Name: m.Name, Columns: make([]olap.Column, len(m.Columns)), OrderBy: append([]string{}, m.OrderBy...)}
	for i, c := range m.Columns {
		t.Columns[i] = olap.Column{Name: c.Name, Type: c.Type, Nullable: !c.Required}
	}
	return t
}

// DeadLetterSuffix names a model's dead-letter table: <Model>_dead_letter.
const DeadLetterSuffix = "_dead_letter"

// DeadLetterTable is the table that holds the model's rejected records:
// received_at DateTime, record_index UInt32 (the record's index in its
// request body), record String (its raw JSON) and error String, ordered by
// received_at.
func (m *Model) DeadLetterTable() olap.Table {
	return olap.Table{
		Name: m.Name + DeadLetterSuffix,
		Columns: []olap.Column{
			{Name: "received_at", Type: "DateTime"},
			{Name: "record_index", Type: "UInt32"},
			{Name: "record", Type: "String"},
			{Name: "error", Type: "String"},
		},
		OrderBy: []string{"received_at"},
	}
}

// Tables lists every table the project declares: each model's table and,
// with dead_letter, its dead-letter table, in declaration order.
func (p *Project) Tables() []olap.Table {
	var out []olap.Table
	for _, m := range p.Models {
		out = append(out, m.Table())
		if m.DeadLetter {
			out = append(out, m.DeadLetterTable())
		}
	}
	return out
}

// Claims reports whether any model column or API param is bound from a JWT
// claim.
func (p *Project) Claims() bool {
	for _, m := range p.Models {
		for _, c := range m.Columns {
			if c.JWTClaim != "" {
				return true
			}
		}
	}
	for _, a := range p.APIs {
		for _, q := range a.Params {
			if q.JWTClaim != "" {
				return true
			}
		}
	}
	return false
}

// ParsedType parses the column's type. It cannot fail for a column of a loaded
// Project.
func (c Column) ParsedType() (Type, error) { return ParseType(c.Type) }

// ParsedType parses the parameter's type. It cannot fail for a param of a
// loaded Project.
func (p Param) ParsedType() (Type, error) { return ParseType(p.Type) }

func errf(file, field, format string, args ...any) *Error {
	return &Error{File: file, Field: field, Reason: fmt.Sprintf(format, args...)}
}
