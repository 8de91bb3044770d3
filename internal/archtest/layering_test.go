package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/moose-go/moose/"

// allowed lists, per package, every package of this module and every
// third-party module it may import (the standard library is always
// allowed). A package missing here fails the test: new packages declare
// their place.
var allowed = map[string][]string{
	"internal/httpx":           {},
	"internal/config":          {"github.com/BurntSushi/toml"},
	"internal/olap":            {},
	"internal/olap/chsql":      {"internal/olap"},
	"internal/olap/embedded":   {"internal/olap", "internal/olap/chsql", "github.com/ebitengine/purego"},
	"internal/olap/clickhouse": {"internal/olap", "internal/olap/chsql", "internal/config"},
	"internal/olap/olaptest":   {"internal/olap", "internal/olap/chsql"},
	"internal/project":         {"internal/olap", "internal/olap/chsql", "github.com/BurntSushi/toml"},
	"internal/stream":          {"internal/config"},
	"internal/stream/kafka":    {"internal/stream", "internal/config", "internal/olap", "internal/olap/chsql", "github.com/twmb/franz-go"},
	"internal/auth":            {"internal/httpx", "internal/config", "github.com/golang-jwt/jwt/v5"},
	"internal/ingest":          {"internal/olap", "internal/project", "internal/stream", "internal/httpx", "internal/config"},
	"internal/api":             {"internal/olap", "internal/project", "internal/httpx", "internal/config"},
	"internal/admin":           {"internal/olap", "internal/project", "internal/httpx", "internal/config"},
	"internal/openapi":         {"internal/project", "go.yaml.in/yaml/v3"},
	"internal/server": {"internal/auth", "internal/ingest", "internal/api", "internal/admin", "internal/openapi",
		"internal/olap", "internal/olap/chsql", "internal/olap/embedded", "internal/olap/clickhouse",
		"internal/stream", "internal/stream/kafka", "internal/project", "internal/httpx", "internal/config"},
	"internal/e2e":      {}, // tests only: they run the binary
	"internal/archtest": {},
}

func TestImportLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("%s is not in archtest's layering table: add it with what it may import", pkg)
			continue
		}
		for _, imp := range f[1:] {
			if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // standard library
			}
			dep := strings.TrimPrefix(imp, mod)
			if !permitted(dep, rules) {
				t.Errorf("%s imports %s, which its layer does not allow (allowed: %v)", pkg, dep, rules)
			}
		}
	}
}

func permitted(dep string, rules []string) bool {
	for _, r := range rules {
		if dep == r || strings.HasPrefix(dep, r+"/") && !strings.HasPrefix(r, "internal/") {
			return true
		}
	}
	return false
}
