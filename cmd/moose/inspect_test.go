package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/moose-go/moose/internal/auth"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/openapi"
	"github.com/moose-go/moose/internal/project"
)

// The -update flag rewrites golden files; another test file of this
// package may define it too, so it is looked up, never redefined.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func inspectUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const testProject = "testdata/project"

// runCmd runs one command line in dir with environ and returns its exit
// code, stdout and stderr.
func runCmd(t *testing.T, dir string, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, dir: dir, environ: environ}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if inspectUpdating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/moose -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./cmd/moose -update and review the diff)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func absProject(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(testProject)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func testPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestLs(t *testing.T) {
	dir := absProject(t)
	_, hash, err := auth.GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	jwtEnv := []string{"MOOSE_JWT_PUBLIC_KEY=" + testPEM(t), "MOOSE_JWT_ISSUER=https://issuer.example/",
		"MOOSE_JWT_AUDIENCE=moose-test"}
	for _, c := range []struct {
		name, golden string
		args, env    []string
	}{
		{"open", "ls.golden", []string{"ls"}, nil},
		{"json", "ls.json.golden", []string{"ls", "--json"}, nil},
		{"api keys", "ls-keys.golden", []string{"ls"}, []string{"MOOSE_INGEST_API_KEY=" + hash, "MOOSE_ADMIN_TOKEN=" + hash}},
		{"jwt and key", "ls-jwt.golden", []string{"ls"}, append([]string{"MOOSE_CONSUMPTION_API_KEY=" + hash,
			"MOOSE_JWT__ENFORCE_ON_ALL_INGEST_APIS=true"}, jwtEnv...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, dir, c.env, c.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			checkGolden(t, c.golden, out)
			if strings.Contains(out, hash) {
				t.Error("ls printed a configured hash")
			}
		})
	}
	t.Run("json shape", func(t *testing.T) {
		_, out, _ := runCmd(t, dir, nil, "ls", "--json")
		var v struct {
			Routes []struct{ Method, Path, Scope, Model, Table, API string }
			Tables []olap.Table
			Auth   map[string]string
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Routes) != 8 || len(v.Tables) != 3 || v.Auth["admin"] != auth.ModeClosed {
			t.Errorf("routes %d (want 8), tables %d (want 3), auth %v", len(v.Routes), len(v.Tables), v.Auth)
		}
	})
	t.Run("not a project", func(t *testing.T) {
		code, _, errOut := runCmd(t, t.TempDir(), nil, "ls")
		if code != 1 || !strings.Contains(errOut, "moose.config.toml") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("extra argument", func(t *testing.T) {
		if code, _, _ := runCmd(t, dir, nil, "ls", "x"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}

// sample is a result with every awkward value a table must survive.
func sample() *rowSet {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	return &rowSet{
		Columns: []olap.ColumnMeta{{Name: "id", Type: "String"}, {Name: "ts", Type: "DateTime"},
			{Name: "n", Type: "Int64"}, {Name: "u", Type: "UInt64"}, {Name: "d", Type: "Nullable(Float64)"},
			{Name: "tags", Type: "Array(String)"}},
		Rows: [][]json.RawMessage{
			{raw(`"a"`), raw(`"2024-01-01T10:00:00Z"`), raw(`-9223372036854775808`), raw(`18446744073709551615`), raw(`null`), raw(`["x", "y"]`)},
			{raw(`"line1\nline2\ttab\u001b[31mred"`), raw(`"2106-02-07T06:28:15Z"`), raw(`9223372036854775807`), raw(`0`), raw(`35.5`), raw(`[]`)},
			{raw(`"` + strings.Repeat("é", 70) + `"`), raw(`"1970-01-01T00:00:00Z"`), raw(`0`), raw(`1`), raw(`-0.25`), raw(`["` + strings.Repeat("z", 80) + `"]`)},
			{raw(`"quote \" back \\ {x:String} -- /* */"`), raw(`null`), raw(`1`), raw(`2`), raw(`1e-7`), raw(`null`)},
		},
	}
}

func TestWriteRows(t *testing.T) {
	var text, js bytes.Buffer
	if err := writeRows(&text, sample(), false); err != nil {
		t.Fatal(err)
	}
	if err := writeRows(&js, sample(), true); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "rows.golden", text.String())
	checkGolden(t, "rows.json.golden", js.String())
	if strings.ContainsRune(text.String(), '\x1b') {
		t.Error("an escape character reached the terminal")
	}
	for _, l := range strings.Split(text.String(), "\n") {
		if len([]rune(l)) > 6*(maxCell+2)+10 {
			t.Errorf("line not truncated: %d characters", len([]rune(l)))
		}
	}
	// The JSON form is exact: it decodes back to the same values.
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(js.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || string(rows[0]["n"]) != "-9223372036854775808" || string(rows[0]["u"]) != "18446744073709551615" ||
		string(rows[0]["d"]) != "null" {
		t.Errorf("json rows: %s", js.Bytes())
	}
	var s string
	json.Unmarshal(rows[2]["id"], &s)
	if s != strings.Repeat("é", 70) {
		t.Errorf("json must not truncate: %q", s)
	}

	var empty bytes.Buffer
	writeRows(&empty, &rowSet{Columns: []olap.ColumnMeta{{Name: "x"}}, Rows: [][]json.RawMessage{}}, true)
	if empty.String() != "[]\n" {
		t.Errorf("empty json: %q", empty.String())
	}
}

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                  "plain",
		"a\nb":                   `a\nb`,
		"\x00\x7f":               `\x00\x7f`,
		"bad\xffutf8":            `bad\xffutf8`,
		"\u202eevil":             `\u202eevil`,
		strings.Repeat("x", 61):  strings.Repeat("x", 60) + "…",
		strings.Repeat("x", 60):  strings.Repeat("x", 60),
		strings.Repeat("日", 61):  strings.Repeat("日", 60) + "…",
		strings.Repeat("\n", 40): strings.Repeat(`\n`, 30) + "…",
	} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeRowsKeepsOrder(t *testing.T) {
	cols := []olap.ColumnMeta{{Name: "z"}, {Name: "a"}}
	rs, err := decodeRows(cols, []byte(`[{"z":1,"a":{"k":[1,2]}},{"z":null,"a":"x"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(rs.Rows[0][0]) != "1" || string(rs.Rows[0][1]) != `{"k":[1,2]}` || string(rs.Rows[1][1]) != `"x"` {
		t.Errorf("rows: %q", rs.Rows)
	}
	if _, err := decodeRows(cols, []byte(`[{"z":1}]`)); err == nil {
		t.Error("a short row must be an error")
	}
}

// fakeServer answers /health and POST /admin/query like a moose server.
type fakeServer struct {
	*httptest.Server
	mu    sync.Mutex
	sqls  []string
	token string
}

func newFakeServer(t *testing.T, token string) *fakeServer {
	f := &fakeServer{token: token}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("POST /admin/query", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"unauthorized"}`)
			return
		}
		var req struct{ SQL string }
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.sqls = append(f.sqls, req.SQL)
		f.mu.Unlock()
		if strings.Contains(req.SQL, "missing") {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"table not found: Unknown table expression identifier 'missing'"}`)
			return
		}
		io.WriteString(w, `{"columns":[{"name":"id","type":"String"},{"name":"ts","type":"DateTime"},{"name":"n","type":"UInt64"}],`+
			`"rows":[{"id":"a","ts":"2024-01-01T10:00:00Z","n":18446744073709551615},{"id":"b\nc","ts":"2024-01-02T00:00:00Z","n":0}]}`)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) lastSQL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sqls) == 0 {
		return ""
	}
	return f.sqls[len(f.sqls)-1]
}

// projectOn writes a copy of the test project whose config points at the
// fake server, so no --url is needed.
func projectOn(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	dir := t.TempDir()
	app, _ := os.ReadFile(filepath.Join(testProject, "app", "models.toml"))
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	must(t, os.WriteFile(filepath.Join(dir, "app", "models.toml"), app, 0o644))
	cfg := fmt.Sprintf("source_dir = \"app\"\n[http_server_config]\nhost = %q\nport = %s\nmanagement_port = 1\n", u.Hostname(), u.Port())
	must(t, os.WriteFile(filepath.Join(dir, "moose.config.toml"), []byte(cfg), 0o644))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPeekAndQueryThroughServer(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
	f := newFakeServer(t, token)
	dir := projectOn(t, f.Server)
	tokEnv := []string{"MOOSE_ADMIN_TOKEN=" + token}

	t.Run("peek default url", func(t *testing.T) {
		code, out, errOut := runCmd(t, dir, tokEnv, "peek", "pageview", "-n", "3")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if got := f.lastSQL(); got != "SELECT * FROM `PageView` ORDER BY `ts` DESC, `id` DESC LIMIT 3" {
			t.Errorf("sql = %q", got)
		}
		checkGolden(t, "peek.golden", out)
	})
	t.Run("peek json with --token and --url", func(t *testing.T) {
		code, out, errOut := runCmd(t, absProject(t), nil, "peek", "PageView", "--json", "--url", f.URL, "--token", token)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if got := f.lastSQL(); got != "SELECT * FROM `PageView` ORDER BY `ts` DESC, `id` DESC LIMIT 10" {
			t.Errorf("sql = %q", got)
		}
		checkGolden(t, "peek.json.golden", out)
	})
	t.Run("query", func(t *testing.T) {
		code, out, errOut := runCmd(t, dir, tokEnv, "query", "SELECT id, ts, n FROM PageView", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if f.lastSQL() != "SELECT id, ts, n FROM PageView" || !strings.Contains(out, `"n": 18446744073709551615`) {
			t.Errorf("sql %q, out %s", f.lastSQL(), out)
		}
	})
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		want []string // in the one line on stderr
	}{
		{"no token", nil, []string{"query", "SELECT 1"}, 1, []string{"--token", "MOOSE_ADMIN_TOKEN", "answers at"}},
		{"hash as token", []string{"MOOSE_ADMIN_TOKEN=" + strings.Repeat("ab", 20)}, []string{"peek", "PageView"}, 1, []string{"hash"}},
		{"wrong token", []string{"MOOSE_ADMIN_TOKEN=x.y"}, []string{"query", "SELECT 1"}, 1, []string{"401"}},
		{"flag wins over env", []string{"MOOSE_ADMIN_TOKEN=" + token}, []string{"query", "SELECT 1", "--token", "x.y"}, 1, []string{"401"}},
		{"server error", tokEnv, []string{"query", "SELECT * FROM missing"}, 1, []string{"400", "missing"}},
		{"unknown model", tokEnv, []string{"peek", "Nope"}, 1, []string{`"Nope"`, "PageView, Archive"}},
		{"not read-only", tokEnv, []string{"query", "DROP TABLE PageView"}, 1, []string{"read-only"}},
		{"insert", tokEnv, []string{"query", "  insert into PageView values (1)"}, 1, []string{"read-only"}},
		{"no sql", tokEnv, []string{"query"}, 2, []string{"usage"}},
		{"two sqls", tokEnv, []string{"query", "SELECT 1", "SELECT 2"}, 2, []string{"usage"}},
		{"n zero", tokEnv, []string{"peek", "PageView", "-n", "0"}, 2, []string{"-n 0"}},
		{"n not a number", tokEnv, []string{"peek", "PageView", "-n", "x"}, 2, []string{"usage"}},
		{"bad url", tokEnv, []string{"query", "SELECT 1", "--url", "ftp://x"}, 2, []string{"--url"}},
		{"url down", tokEnv, []string{"query", "SELECT 1", "--url", "http://127.0.0.1:1"}, 1, []string{"cannot reach"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, dir, c.env, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.code, errOut)
			}
			if out != "" {
				t.Errorf("stdout on failure: %q", out)
			}
			first := strings.SplitN(errOut, "\n", 2)[0]
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			if c.code == 1 && strings.Count(errOut, "\n") != 1 {
				t.Errorf("want one line, got %q (first: %q)", errOut, first)
			}
			if strings.Contains(errOut, token) {
				t.Error("the token was echoed")
			}
		})
	}
}

func TestGenerateOpenAPICommand(t *testing.T) {
	dir := absProject(t)
	p, _, err := project.Load(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := openapi.Generate(p, openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, dir, nil, "generate", "openapi")
	if code != 0 || out != string(want) {
		t.Fatalf("exit %d (%s); stdout differs from openapi.Generate", code, errOut)
	}
	tmp := t.TempDir()
	file := filepath.Join(tmp, "openapi.yaml")
	code, out, errOut = runCmd(t, dir, nil, "generate", "openapi", "-o", file)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("-o file: %v, equal %v", err, bytes.Equal(got, want))
	}
	if code, _, _ := runCmd(t, dir, nil, "generate", "openapi", "extra"); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
	if code, _, errOut := runCmd(t, dir, nil, "generate", "openapi", "-o", filepath.Join(tmp, "no", "such", "dir.yaml")); code != 1 {
		t.Errorf("unwritable -o: exit %d (%s)", code, errOut)
	}
}
