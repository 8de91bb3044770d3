package admin

import (
	"slices"

	"github.com/moose-go/moose/internal/olap"
)

// Diff returns the changes that take the tables in current to those in
// desired, in an order that can be applied: creates and column additions
// before drops. Tables in current that desired does not name are dropped
// only when dropMissing is set (a project-wide plan); otherwise left alone.
func Diff(current, desired []olap.Table, dropMissing bool) []olap.Change {
	have := map[string]olap.Table{}
	for _, t := range current {
		have[t.Name] = t
	}
	want := map[string]bool{}
	var changes []olap.Change
	for _, d := range desired {
		want[d.Name] = true
		c, ok := have[d.Name]
		if !ok {
			changes = append(changes, olap.Change{Kind: olap.CreateTable, Table: d})
			continue
		}
		changes = append(changes, diffColumns(c, d)...)
	}
	if dropMissing {
		for _, c := range current {
			if !want[c.Name] {
				changes = append(changes, olap.Change{Kind: olap.DropTable, Table: c})
			}
		}
	}
	return changes
}

func diffColumns(cur, want olap.Table) []olap.Change {
	// ORDER BY cannot be changed in place; say so as a destructive rebuild,
	// which also brings any column changes (checked first: otherwise a plan
	// that also changes columns would drop the new sorting key silently).
	if !slices.Equal(cur.OrderBy, want.OrderBy) && len(cur.Columns) > 0 {
		return []olap.Change{{Kind: olap.DropTable, Table: cur}, {Kind: olap.CreateTable, Table: want}}
	}
	var out []olap.Change
	have := map[string]olap.Column{}
	for _, c := range cur.Columns {
		have[c.Name] = c
	}
	wantNames := map[string]bool{}
	prev := ""
	for _, w := range want.Columns {
		wantNames[w.Name] = true
		col := w
		if h, ok := have[w.Name]; !ok {
			out = append(out, olap.Change{Kind: olap.AddColumn, Table: want, Column: &col, After: prev})
		} else if h.FullType() != w.FullType() {
			out = append(out, olap.Change{Kind: olap.ModifyColumn, Table: want, Column: &col})
		}
		prev = w.Name
	}
	for _, h := range cur.Columns {
		if !wantNames[h.Name] {
			col := h
			out = append(out, olap.Change{Kind: olap.DropColumn, Table: want, Column: &col})
		}
	}
	return out
}

// Destructive returns the changes among cs that can lose data.
func Destructive(cs []olap.Change) []olap.Change {
	var out []olap.Change
	for _, c := range cs {
		if c.Destructive() {
			out = append(out, c)
		}
	}
	return out
}
