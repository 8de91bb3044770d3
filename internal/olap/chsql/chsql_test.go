package chsql

import (
	"strings"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap"
)

func TestDDL(t *testing.T) {
	tbl := olap.Table{Name: "PageView", OrderBy: []string{"ts", "id"}, Columns: []olap.Column{
		{Name: "id", Type: "String"}, {Name: "ts", Type: "DateTime"},
		{Name: "ok", Type: "Bool", Nullable: true}, {Name: "tags", Type: "Array(LowCardinality(String))"},
	}}
	col := &olap.Column{Name: "n", Type: "Float64", Nullable: true}
	cases := []struct {
		name    string
		d       Dialect
		c       olap.Change
		want    string
		wantErr string
	}{
		{"create modern", Modern, olap.Change{Kind: olap.CreateTable, Table: tbl},
			"CREATE TABLE IF NOT EXISTS `db`.`PageView` (`id` String, `ts` DateTime, `ok` Nullable(Bool), `tags` Array(LowCardinality(String))) ENGINE = MergeTree() ORDER BY (`ts`, `id`)", ""},
		{"create legacy maps Bool and LowCardinality", Legacy18, olap.Change{Kind: olap.CreateTable, Table: tbl},
			"CREATE TABLE IF NOT EXISTS `db`.`PageView` (`id` String, `ts` DateTime, `ok` Nullable(UInt8), `tags` Array(String)) ENGINE = MergeTree() ORDER BY (`ts`, `id`)", ""},
		{"create no order", Modern, olap.Change{Kind: olap.CreateTable, Table: olap.Table{Name: "t", Columns: []olap.Column{{Name: "a", Type: "UInt8"}}}},
			"CREATE TABLE IF NOT EXISTS `db`.`t` (`a` UInt8) ENGINE = MergeTree() ORDER BY tuple()", ""},
		{"legacy refuses DateTime64", Legacy18, olap.Change{Kind: olap.CreateTable, Table: olap.Table{Name: "t", Columns: []olap.Column{{Name: "a", Type: "DateTime64(3)"}}}},
			"", "not supported by ClickHouse 18.16"},
		{"add column after", Modern, olap.Change{Kind: olap.AddColumn, Table: tbl, Column: col, After: "ts"},
			"ALTER TABLE `db`.`PageView` ADD COLUMN IF NOT EXISTS `n` Nullable(Float64) AFTER `ts`", ""},
		{"legacy add column has no IF NOT EXISTS", Legacy18, olap.Change{Kind: olap.AddColumn, Table: tbl, Column: col},
			"ALTER TABLE `db`.`PageView` ADD COLUMN `n` Nullable(Float64)", ""},
		{"legacy drop column has no IF EXISTS", Legacy18, olap.Change{Kind: olap.DropColumn, Table: tbl, Column: col},
			"ALTER TABLE `db`.`PageView` DROP COLUMN `n`", ""},
		{"drop column", Modern, olap.Change{Kind: olap.DropColumn, Table: tbl, Column: col},
			"ALTER TABLE `db`.`PageView` DROP COLUMN IF EXISTS `n`", ""},
		{"modify column", Modern, olap.Change{Kind: olap.ModifyColumn, Table: tbl, Column: &olap.Column{Name: "n", Type: "String"}},
			"ALTER TABLE `db`.`PageView` MODIFY COLUMN `n` String", ""},
		{"drop table", Modern, olap.Change{Kind: olap.DropTable, Table: tbl}, "DROP TABLE IF EXISTS `db`.`PageView`", ""},
		{"column kind without column", Modern, olap.Change{Kind: olap.AddColumn, Table: tbl}, "", "no column"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.d.DDL("db", tc.c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v\nwant %q", got, err, tc.want)
			}
		})
	}
}

func TestQuoteIdent(t *testing.T) {
	if got := QuoteIdent("a`b\\c"); got != "`a\\`b\\\\c`" {
		t.Fatalf("got %s", got)
	}
}

func TestLiteral(t *testing.T) {
	ts := time.Date(2024, 2, 3, 4, 5, 6, 0, time.FixedZone("x", 3600))
	cases := []struct {
		name string
		d    Dialect
		p    olap.Param
		want string
	}{
		{"string quotes and backslash", Modern, olap.Param{Type: "String", Value: `it's \ {x:String} -- c`}, `'it\'s \\ {x:String} -- c'`},
		{"string NUL and control", Modern, olap.Param{Type: "String", Value: "a\x00b\nc\x7f"}, `'a\x00b\nc\x7f'`},
		{"string invalid utf8 escaped, valid kept", Modern, olap.Param{Type: "String", Value: "\xff\xfeé"}, `'\xff\xfeé'`},
		{"int64", Modern, olap.Param{Type: "Int64", Value: int64(-9223372036854775808)}, `CAST('-9223372036854775808' AS Int64)`},
		{"uint64", Modern, olap.Param{Type: "UInt64", Value: uint64(18446744073709551615)}, `CAST('18446744073709551615' AS UInt64)`},
		{"datetime to UTC", Modern, olap.Param{Type: "DateTime", Value: ts}, `CAST('2024-02-03 03:05:06' AS DateTime)`},
		{"date", Modern, olap.Param{Type: "Date", Value: ts}, `CAST('2024-02-03' AS Date)`},
		{"bool modern", Modern, olap.Param{Type: "Bool", Value: true}, `true`},
		{"bool legacy", Legacy18, olap.Param{Type: "Bool", Value: true}, `1`},
		{"null", Modern, olap.Param{Type: "Nullable(String)", Value: nil}, `NULL`},
		{"array of strings", Modern, olap.Param{Type: "Array(String)", Value: []any{"a'", "b"}}, `CAST(['a\'', 'b'] AS Array(String))`},
		{"decimal", Modern, olap.Param{Type: "Decimal(10,2)", Value: "12.50"}, `CAST('12.50' AS Decimal(10,2))`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.d.Literal(tc.p)
			if err != nil || got != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestParamText(t *testing.T) {
	cases := []struct {
		p    olap.Param
		want string
	}{
		{olap.Param{Type: "String", Value: "a\\b\tc'd"}, `a\\b\tc'd`},
		{olap.Param{Type: "String", Value: "\x00\xff"}, `\x00\xff`},
		{olap.Param{Type: "Array(String)", Value: []any{"x'y", "z"}}, `['x\'y','z']`},
		{olap.Param{Type: "Array(UInt8)", Value: []any{uint64(1), uint64(2)}}, `[1,2]`},
		{olap.Param{Type: "Nullable(Int32)", Value: nil}, `\N`},
	}
	for _, tc := range cases {
		got, err := Modern.ParamText(tc.p)
		if err != nil || got != tc.want {
			t.Errorf("%v: got %s, %v; want %s", tc.p, got, err, tc.want)
		}
	}
}

func TestRenderPlaceholders(t *testing.T) {
	sql := "SELECT '{not:String}', `{nor:String}` /* {c:String} */ FROM t WHERE a = {a:String} -- {d:String}\nAND b < {b:UInt32}"
	ps, err := Placeholders(sql)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "a" || ps[1].Name != "b" || ps[1].Type != "UInt32" {
		t.Fatalf("placeholders = %+v", ps)
	}
	got, err := Render(sql, func(name, typ string) (string, error) {
		// A value that looks like a placeholder must stay data.
		return QuoteString("{b:UInt32}"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, "'{b:UInt32}'") != 2 {
		t.Fatalf("render = %s", got)
	}
	for _, bad := range []string{"SELECT {a}", "SELECT {a:String", "SELECT 'x", "SELECT /* x"} {
		if _, err := Placeholders(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func FuzzQuoteString(f *testing.F) {
	for _, s := range []string{"", "a'b", "\\", "\x00", "\xff", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := QuoteString(s)
		// Inside the quotes, every ' must be escaped.
		inner := q[1 : len(q)-1]
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' {
				i++
				continue
			}
			if inner[i] == '\'' || inner[i] < 0x20 {
				t.Fatalf("unescaped byte %q in %q", inner[i], q)
			}
		}
	})
}
