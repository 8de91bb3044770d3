package admin

import (
	"testing"

	"github.com/moose-go/moose/internal/olap"
)

func TestDiff(t *testing.T) {
	base := olap.Table{Name: "T", OrderBy: []string{"id"}, Columns: []olap.Column{
		{Name: "id", Type: "String"}, {Name: "n", Type: "Int64"}}}
	withCol := olap.Table{Name: "T", OrderBy: []string{"id"}, Columns: []olap.Column{
		{Name: "id", Type: "String"}, {Name: "n", Type: "Int64"}, {Name: "x", Type: "Float64", Nullable: true}}}
	retyped := olap.Table{Name: "T", OrderBy: []string{"id"}, Columns: []olap.Column{
		{Name: "id", Type: "String"}, {Name: "n", Type: "String"}}}
	dropped := olap.Table{Name: "T", OrderBy: []string{"id"}, Columns: []olap.Column{{Name: "id", Type: "String"}}}
	reordered := olap.Table{Name: "T", OrderBy: []string{"n"}, Columns: base.Columns}
	reorderedWithCol := olap.Table{Name: "T", OrderBy: []string{"n"}, Columns: withCol.Columns}
	other := olap.Table{Name: "U", Columns: []olap.Column{{Name: "a", Type: "UInt8"}}}

	type want struct {
		kind        olap.ChangeKind
		col, after  string
		destructive bool
	}
	cases := []struct {
		name        string
		cur, des    []olap.Table
		dropMissing bool
		want        []want
	}{
		{"same", []olap.Table{base}, []olap.Table{base}, true, nil},
		{"new table", nil, []olap.Table{base}, true, []want{{olap.CreateTable, "", "", false}}},
		{"add column", []olap.Table{base}, []olap.Table{withCol}, true, []want{{olap.AddColumn, "x", "n", false}}},
		{"change type", []olap.Table{base}, []olap.Table{retyped}, true, []want{{olap.ModifyColumn, "n", "", true}}},
		{"drop column", []olap.Table{base}, []olap.Table{dropped}, true, []want{{olap.DropColumn, "n", "", true}}},
		{"order by change rebuilds", []olap.Table{base}, []olap.Table{reordered}, true,
			[]want{{olap.DropTable, "", "", true}, {olap.CreateTable, "", "", false}}},
		{"order by change with a new column rebuilds", []olap.Table{base}, []olap.Table{reorderedWithCol}, true,
			[]want{{olap.DropTable, "", "", true}, {olap.CreateTable, "", "", false}}},
		{"drop missing table", []olap.Table{base, other}, []olap.Table{base}, true, []want{{olap.DropTable, "", "", true}}},
		{"keep unknown table", []olap.Table{base, other}, []olap.Table{base}, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.cur, tc.des, tc.dropMissing)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d changes %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Kind != w.kind || g.Destructive() != w.destructive || g.After != w.after {
					t.Errorf("change %d = %+v, want %+v", i, g, w)
				}
				if w.col != "" && (g.Column == nil || g.Column.Name != w.col) {
					t.Errorf("change %d column = %+v, want %s", i, g.Column, w.col)
				}
			}
		})
	}
}
