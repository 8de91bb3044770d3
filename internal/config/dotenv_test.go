package config

import (
	"regexp"
	"strings"
	"testing"
)

func TestParseDotenv(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []envVar // name and value only
	}{
		{"empty", "", nil},
		{"comments and blank lines", "# c\n\n   # indented\n\t\n", nil},
		{"simple", "A=1\nB=two words\n", []envVar{{name: "A", value: "1"}, {name: "B", value: "two words"}}},
		{"export prefix", "export A=1\nexport\tB=2\n", []envVar{{name: "A", value: "1"}, {name: "B", value: "2"}}},
		{"key named export", "export=1\n", []envVar{{name: "export", value: "1"}}},
		{"spaces around =", "  A =  1  \n", []envVar{{name: "A", value: "1"}}},
		{"empty value", "A=\nB=\"\"\nC=''", []envVar{{name: "A"}, {name: "B"}, {name: "C"}}},
		{"inline comment", "A=1 # one\nB=x#y\nC= # only a comment\n", []envVar{{name: "A", value: "1"}, {name: "B", value: "x#y"}, {name: "C"}}},
		{"single quotes are literal", `A='a\nb "c" $d'`, []envVar{{name: "A", value: `a\nb "c" $d`}}},
		{"double-quote escapes", `A="a\nb\tc\"d\\e\$f\qg"`, []envVar{{name: "A", value: "a\nb\tc\"d\\e$f\\qg"}}},
		{"multi-line double quotes", "A=\"l1\nl2\n\"\nB=2", []envVar{{name: "A", value: "l1\nl2\n"}, {name: "B", value: "2"}}},
		{"multi-line single quotes", "A='l1\nl2'\n", []envVar{{name: "A", value: "l1\nl2"}}},
		{"comment after quotes", "A=\"x\" # c\nB='y'\t#c\n", []envVar{{name: "A", value: "x"}, {name: "B", value: "y"}}},
		{"hash inside quotes", `A="x # y"`, []envVar{{name: "A", value: "x # y"}}},
		{"CRLF", "A=1\r\nB=\"x\r\ny\"\r\n", []envVar{{name: "A", value: "1"}, {name: "B", value: "x\ny"}}},
		{"BOM", "\ufeffA=1", []envVar{{name: "A", value: "1"}}},
		{"equals in value", "A=b=c", []envVar{{name: "A", value: "b=c"}}},
		{"later entry kept in order", "A=1\nA=2", []envVar{{name: "A", value: "1"}, {name: "A", value: "2"}}},
		{"key characters", "a.b-c_D9=1", []envVar{{name: "a.b-c_D9", value: "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDotenv([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i].name != tt.want[i].name || got[i].value != tt.want[i].value {
					t.Errorf("entry %d = %q=%q, want %q=%q", i, got[i].name, got[i].value, tt.want[i].name, tt.want[i].value)
				}
			}
		})
	}
}

func TestParseDotenvErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no equals", "A=1\nJUSTAKEY\n", "line 2: expected KEY=VALUE"},
		{"bad key", "1A=x", "line 1: expected KEY=VALUE"},
		{"space in key", "A B=x", "line 1: expected KEY=VALUE"},
		{"unterminated double", "A=1\n\nB=\"SEKRIT\nmore", "line 3: B: unterminated double-quoted value"},
		{"unterminated single", "B='SEKRIT", "line 1: B: unterminated single-quoted value"},
		{"trailing backslash", `B="SEKRIT\`, "line 1: B: unterminated double-quoted value"},
		{"text after quote", "B=\"SEKRIT\"x", "line 1: B: unexpected text after the closing quote"},
		{"line counted across multi-line value", "A=\"1\n2\n3\"\nB", "line 4: expected KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseDotenv([]byte(tt.in))
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			assertNoSecret(t, "error", err.Error())
		})
	}
}

var dotenvKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// quoteDotenv writes v as a double-quoted dotenv value.
func quoteDotenv(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(v) + `"`
}

// FuzzDotenv: the parser never panics, keys are well formed, and what it
// accepts survives a write-and-reparse round trip.
func FuzzDotenv(f *testing.F) {
	for _, s := range []string{
		"", "A=1", "export A='x'\n", "A=\"l1\nl2\\n\" # c\n", "# c\nB=x #y\r\n",
		"A=\"unterminated", "A='", "\ufeffA=b=c", "A=\"\\", "=x", "export", "export =", "A=\"x\" y",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			t.Skip()
		}
		vars, err := parseDotenv(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, v := range vars {
			if !dotenvKey.MatchString(v.name) {
				t.Fatalf("bad key %q", v.name)
			}
			b.WriteString(v.name + "=" + quoteDotenv(v.value) + "\n")
		}
		again, err := parseDotenv([]byte(b.String()))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if len(again) != len(vars) {
			t.Fatalf("re-parse: %d entries, want %d", len(again), len(vars))
		}
		for i := range vars {
			if again[i].name != vars[i].name || again[i].value != vars[i].value {
				t.Fatalf("re-parse entry %d = %q=%q, want %q=%q", i, again[i].name, again[i].value, vars[i].name, vars[i].value)
			}
		}
	})
}
