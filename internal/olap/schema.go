package olap

// Column is one table column. Type is the ClickHouse type text without the
// Nullable wrapper; Nullable adds it.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable,omitempty"`
}

// FullType is the column's type as the engine spells it.
func (c Column) FullType() string {
	if c.Nullable {
		return "Nullable(" + c.Type + ")"
	}
	return c.Type
}

// Table is a MergeTree table.
type Table struct {
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
	// OrderBy lists sorting-key columns; empty means tuple().
	OrderBy []string `json:"order_by"`
}

// ChangeKind names one schema change.
type ChangeKind string

const (
	CreateTable  ChangeKind = "create_table"
	DropTable    ChangeKind = "drop_table"
	AddColumn    ChangeKind = "add_column"
	DropColumn   ChangeKind = "drop_column"
	ModifyColumn ChangeKind = "modify_column" // type change
)

// Change is one typed schema change. Table is set for every kind; Column for
// the column kinds (for AddColumn, After names the column it follows, or ""
// for first). Table.Columns/OrderBy are set for CreateTable.
type Change struct {
	Kind   ChangeKind `json:"kind"`
	Table  Table      `json:"table"`
	Column *Column    `json:"column,omitempty"`
	After  string     `json:"after,omitempty"`
}

// Destructive reports whether applying c can lose data.
func (c Change) Destructive() bool {
	switch c.Kind {
	case DropTable, DropColumn, ModifyColumn:
		return true
	}
	return false
}
