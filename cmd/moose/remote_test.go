package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/admin"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
	"github.com/moose-go/moose/internal/project"
)

// The -update flag rewrites golden files. Another test file of this
// package may define it too; whichever comes first wins.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func remoteUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// remoteGolden compares got with testdata/plan/<name>.golden.
func remoteGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "plan", name+".golden")
	if remoteUpdating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// Tokens of the fake admin server (shaped like generate hash-token's).
const (
	rtToken    = "0123456789abcdef0123456789abcdef.00112233445566778899aabbccddeeff"
	rtEnvToken = "fedcba9876543210fedcba9876543210.ffeeddccbbaa99887766554433221100"
	rtHash     = "0123456789abcdef0123456789abcdef01234567"
)

// rtMigrator is an olap.Migrator that renders real DDL and applies nothing.
// Apply blocks while block is non-nil and open, and fails with fail.
type rtMigrator struct {
	mu      sync.Mutex
	applied [][]olap.Change
	block   chan struct{}
	entered chan struct{}
	fail    error
}

func (m *rtMigrator) Tables(context.Context) ([]olap.Table, error) { return nil, nil }
func (m *rtMigrator) DDL(c olap.Change) (string, error)            { return chsql.Modern.DDL("", c) }
func (m *rtMigrator) Apply(ctx context.Context, cs []olap.Change) error {
	if m.entered != nil {
		m.entered <- struct{}{}
	}
	if m.block != nil {
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applied = append(m.applied, cs)
	return m.fail
}

func (m *rtMigrator) applies() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.applied)
}

// rtServer is a fake moose: the real admin handlers and service over
// rtMigrator, behind a bearer check that accepts only rtToken.
type rtServer struct {
	*httptest.Server
	mig  *rtMigrator
	cur  atomic.Pointer[admin.InfraMap]
	seen atomic.Value // the last Authorization header
	hits atomic.Int32
}

func newRTServer(t *testing.T, from *admin.InfraMap) *rtServer {
	t.Helper()
	s := &rtServer{mig: &rtMigrator{}}
	s.cur.Store(from)
	svc := admin.NewService(s.mig, nil, func() *admin.InfraMap { return s.cur.Load() },
		func(_ context.Context, m *admin.InfraMap, _ *project.Project) error { s.cur.Store(m); return nil })
	mux := http.NewServeMux()
	admin.NewHandlers(svc, nil, nil, slog.New(slog.DiscardHandler)).Register(mux)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.seen.Store(r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer "+rtToken {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"unauthorized"}`)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *rtServer) lastAuth() string {
	v, _ := s.seen.Load().(string)
	return v
}

// rtProject writes a project (moose.config.toml plus app/models.toml) and
// returns its directory.
func rtProject(t *testing.T, models, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "moose.config.toml"), []byte("source_dir = \"app\"\n"+config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "models.toml"), []byte(models), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rtMap is the map of a project given as the text of one models file.
func rtMap(t *testing.T, models string) *admin.InfraMap {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "models.toml"), []byte(models), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, err := project.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return admin.MapFromProject(p)
}

// rtRun runs one command line in dir and returns its exit code and output.
func rtRun(t *testing.T, dir string, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, dir: dir, environ: environ}
	code = run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// rtOneLine fails unless s is exactly one line containing every want.
func rtOneLine(t *testing.T, s string, want ...string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("want one line on stderr, got %q", s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("stderr %q does not contain %q", s, w)
		}
	}
}

var rtBase = planFixture("base.toml")

var rtWithX = planFixture("with-x.toml")

var rtRetyped = planFixture("retyped.toml")

var rtWithAPI = planFixture("with-api.toml")

func TestPlanGolden(t *testing.T) {
	cases := []struct {
		name     string
		from, to string
		args     []string
	}{
		{"add-table", "", rtBase, nil},
		{"add-column", rtBase, rtWithX, nil},
		{"change-type", rtBase, rtRetyped, nil},
		{"drop-column", rtWithX, rtBase, nil},
		{"add-api", rtBase, rtWithAPI, nil},
		{"no-changes", rtBase, rtBase, nil},
		{"drop-column.json", rtWithX, rtBase, []string{"--json"}},
		{"no-changes.json", rtBase, rtBase, []string{"--json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRTServer(t, rtMap(t, tc.from))
			dir := rtProject(t, tc.to, "")
			args := append([]string{"plan", "--url", srv.URL, "--token", rtToken}, tc.args...)
			code, out, errs := rtRun(t, dir, nil, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			if errs != "" {
				t.Errorf("stderr: %q", errs)
			}
			remoteGolden(t, tc.name, out)
			if n := srv.mig.applies(); n != 0 {
				t.Errorf("plan applied %d times", n)
			}
		})
	}
}

func TestPlanColour(t *testing.T) {
	srv := newRTServer(t, rtMap(t, rtWithX))
	dir := rtProject(t, rtRetyped, "")
	for _, tc := range []struct {
		name     string
		terminal bool
		environ  []string
		colour   bool
	}{
		{"terminal", true, nil, true},
		{"terminal NO_COLOR", true, []string{"NO_COLOR=1"}, false},
		{"pipe", false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			e := &env{stdout: &out, stderr: &errb, dir: dir, environ: tc.environ, isTerminal: tc.terminal}
			if code := run(context.Background(), e, []string{"plan", "--url", srv.URL, "--token", rtToken}); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			got := out.String()
			has := strings.Contains(got, "\x1b[")
			if has != tc.colour {
				t.Fatalf("colour = %v, want %v:\n%q", has, tc.colour, got)
			}
			if tc.colour {
				for _, w := range []string{
					planYellow + "~ modify column PageView.n (destructive)" + planReset,
					planRed + "- drop column PageView.x (destructive)" + planReset,
				} {
					if !strings.Contains(got, w) {
						t.Errorf("output lacks %q:\n%q", w, got)
					}
				}
			}
		})
	}
}

func TestChangeLine(t *testing.T) {
	for _, tc := range []struct {
		c    admin.Change
		want string
	}{
		{admin.Change{Kind: "create_table", Object: "table T"}, "+ create table T"},
		{admin.Change{Kind: "add_ingest_route", Object: "route POST /ingest/T"}, "+ add route POST /ingest/T"},
		{admin.Change{Kind: "change_api", Object: "api GET /api/a"}, "~ change api GET /api/a"},
		{admin.Change{Kind: "remove_api", Object: "api GET /api/a"}, "- remove api GET /api/a"},
		{admin.Change{Kind: "drop_table", Object: "table T", Destructive: true}, "- drop table T (destructive)"},
		{admin.Change{Kind: "rename", Object: "thing"}, "* rename thing"},
	} {
		if got := changeLine(tc.c, false); got != tc.want {
			t.Errorf("changeLine(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestRemoteTokenPrecedence(t *testing.T) {
	srv := newRTServer(t, rtMap(t, rtBase))
	plain := rtProject(t, rtBase, "")
	withKey := rtProject(t, rtBase, "\n[authentication]\nadmin_api_key = \""+rtHash+"\"\n")
	cases := []struct {
		name     string
		dir      string
		args     []string
		environ  []string
		code     int
		sentAuth string   // the Authorization the server saw ("" = no request)
		stderr   []string // substrings of the one-line error
	}{
		{"flag beats env", plain, []string{"--token", rtToken}, []string{"MOOSE_ADMIN_TOKEN=" + rtEnvToken}, 0, "Bearer " + rtToken, nil},
		{"env alone", plain, nil, []string{"MOOSE_ADMIN_TOKEN=" + rtToken}, 0, "Bearer " + rtToken, nil},
		{"env alone, refused", plain, nil, []string{"MOOSE_ADMIN_TOKEN=" + rtEnvToken}, 1, "Bearer " + rtEnvToken,
			[]string{"refused the admin token (401)"}},
		{"neither", plain, nil, nil, 1, "", []string{"--token", "MOOSE_ADMIN_TOKEN", "no admin token"}},
		{"hash as flag", plain, []string{"--token", rtHash}, nil, 1, "", []string{"--token looks like a PBKDF2 hash", "plain Bearer Token"}},
		{"hash as env", plain, nil, []string{"MOOSE_ADMIN_TOKEN=" + rtHash}, 1, "", []string{"MOOSE_ADMIN_TOKEN looks like a PBKDF2 hash"}},
		{"config hash, no token", withKey, nil, nil, 1, "", []string{"--token", "MOOSE_ADMIN_TOKEN", "admin_api_key", "cannot be sent"}},
		{"config hash, env token", withKey, nil, []string{"MOOSE_ADMIN_TOKEN=" + rtToken}, 0, "Bearer " + rtToken, nil},
	}
	for _, tc := range cases {
		for _, cmd := range []string{"plan", "apply"} {
			t.Run(cmd+"/"+tc.name, func(t *testing.T) {
				srv.seen.Store("")
				before := srv.hits.Load()
				args := append([]string{cmd, "--url", srv.URL}, tc.args...)
				code, _, errs := rtRun(t, tc.dir, tc.environ, args...)
				if code != tc.code {
					t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errs)
				}
				if tc.sentAuth == "" {
					if n := srv.hits.Load() - before; n != 0 {
						t.Errorf("the server got %d requests, want none", n)
					}
				} else if got := srv.lastAuth(); got != tc.sentAuth {
					t.Errorf("server saw Authorization %q, want %q", got, tc.sentAuth)
				}
				if tc.code != 0 {
					rtOneLine(t, errs, tc.stderr...)
					if strings.Contains(errs, rtEnvToken) || strings.Contains(errs, rtToken) {
						t.Errorf("the error echoes a token: %q", errs)
					}
				}
			})
		}
	}
}

func TestRemoteTransportErrors(t *testing.T) {
	dir := rtProject(t, rtBase, "")

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>hello</html>")
	}))
	t.Cleanup(html.Close)

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"applying the plan failed: disk full"}`)
	}))
	t.Cleanup(failing.Close)

	old := adminTimeout
	adminTimeout = 300 * time.Millisecond
	t.Cleanup(func() { adminTimeout = old })

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unreachable", []string{"--url", closedURL}, 1, []string{"cannot reach moose at " + closedURL}},
		{"not JSON", []string{"--url", html.URL}, 1, []string{"is not JSON", "is this a moose server?"}},
		{"timeout", []string{"--url", slow.URL}, 1, []string{"moose at " + slow.URL + " did not answer in time"}},
		{"server error", []string{"--url", failing.URL}, 1, []string{"the server answered 500: applying the plan failed: disk full"}},
		{"bad url", []string{"--url", "localhost:4000"}, 2, []string{"want http(s)://host:port"}},
		{"stray argument", []string{"--url", html.URL, "extra"}, 2, []string{`unexpected argument "extra"`}},
		{"unknown flag", []string{"--bogus"}, 2, []string{"flag provided but not defined: -bogus"}},
	}
	for _, tc := range cases {
		for _, cmd := range []string{"plan", "apply"} {
			t.Run(cmd+"/"+tc.name, func(t *testing.T) {
				start := time.Now()
				args := append([]string{cmd, "--token", rtToken}, tc.args...)
				code, out, errs := rtRun(t, dir, nil, args...)
				if code != tc.code {
					t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errs)
				}
				if out != "" {
					t.Errorf("stdout: %q", out)
				}
				first := errs
				if tc.code == 2 { // usage errors add the usage line
					first, _, _ = strings.Cut(errs, "\n")
					first += "\n"
				}
				rtOneLine(t, first, tc.want...)
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("took %v", d)
				}
			})
		}
	}
}

func TestRemoteProjectErrors(t *testing.T) {
	srv := newRTServer(t, rtMap(t, rtBase))
	t.Run("not a project", func(t *testing.T) {
		code, _, errs := rtRun(t, t.TempDir(), nil, "plan", "--url", srv.URL, "--token", rtToken)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		rtOneLine(t, errs, "no moose.config.toml in", "run this in a moose project directory")
	})
	t.Run("broken model file", func(t *testing.T) {
		dir := rtProject(t, rtBase+"\n[[data_model]]\nname = \"Bad\"\n  [[data_model.columns]]\n  name = \"a\"\n  type = \"Nope\"\n  [[data_model.columns]]\n  name = \"b\"\n  type = \"AlsoNope\"\n", "")
		code, _, errs := rtRun(t, dir, nil, "apply", "--url", srv.URL, "--token", rtToken)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		rtOneLine(t, errs, "the project files have errors", "Nope", "AlsoNope")
		if n := srv.hits.Load(); n != 0 {
			t.Errorf("the server got %d requests", n)
		}
	})
}

func TestRemoteAlias(t *testing.T) {
	srv := newRTServer(t, rtMap(t, rtBase))
	dir := rtProject(t, rtWithX, "")
	_, want, _ := rtRun(t, dir, nil, "plan", "--url", srv.URL, "--token", rtToken)
	code, got, errs := rtRun(t, dir, nil, "remote", "plan", "--url", srv.URL, "--token", rtToken)
	if code != 0 || got != want {
		t.Fatalf("remote plan: exit %d, stderr %q, stdout %q, want %q", code, errs, got, want)
	}
	for _, args := range [][]string{{"remote"}, {"remote", "apply"}, {"remote", "--token", rtToken}} {
		code, _, errs := rtRun(t, dir, nil, args...)
		if code != 2 || !strings.Contains(errs, "usage: moose remote") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, errs)
		}
	}
}

func TestApply(t *testing.T) {
	t.Run("applies and reports", func(t *testing.T) {
		srv := newRTServer(t, rtMap(t, rtBase))
		dir := rtProject(t, rtWithX, "")
		code, out, errs := rtRun(t, dir, nil, "apply", "--url", srv.URL, "--token", rtToken)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		remoteGolden(t, "apply-add-column", out)
		if got := srv.cur.Load().Tables[0].Columns; len(got) != 3 {
			t.Errorf("server map not switched: %v", got)
		}
		// Again: nothing left to do.
		code, out, _ = rtRun(t, dir, nil, "apply", "--url", srv.URL, "--token", rtToken)
		if code != 0 || out != "No changes: the server already runs these project files.\n" {
			t.Errorf("second apply: exit %d, %q", code, out)
		}
	})
	t.Run("destructive refused, then allowed", func(t *testing.T) {
		from := rtMap(t, rtWithX)
		srv := newRTServer(t, from)
		dir := rtProject(t, rtRetyped, "")
		code, out, errs := rtRun(t, dir, nil, "apply", "--url", srv.URL, "--token", rtToken)
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		rtOneLine(t, errs, "2 changes can lose data", "nothing was applied", "re-run with --allow-destructive")
		remoteGolden(t, "apply-destructive-refused", out)
		if srv.cur.Load() != from || srv.mig.applies() != 0 {
			t.Fatal("a refused apply changed the server")
		}
		code, out, errs = rtRun(t, dir, nil, "apply", "--url", srv.URL, "--token", rtToken, "--allow-destructive")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		remoteGolden(t, "apply-destructive-allowed", out)
		if srv.cur.Load() == from || srv.mig.applies() != 1 {
			t.Fatal("the allowed apply did not switch the map")
		}
	})
	t.Run("busy", func(t *testing.T) {
		srv := newRTServer(t, rtMap(t, rtBase))
		srv.mig.block, srv.mig.entered = make(chan struct{}), make(chan struct{}, 1)
		dir := rtProject(t, rtWithX, "")
		first := make(chan int)
		go func() {
			var out, errb bytes.Buffer
			e := &env{stdout: &out, stderr: &errb, dir: dir}
			first <- run(context.Background(), e, []string{"apply", "--url", srv.URL, "--token", rtToken})
		}()
		<-srv.mig.entered // the first apply holds the lock
		code, out, errs := rtRun(t, dir, nil, "apply", "--url", srv.URL, "--token", rtToken)
		close(srv.mig.block)
		if c := <-first; c != 0 {
			t.Errorf("first apply: exit %d", c)
		}
		if code != 1 || out != "" {
			t.Fatalf("second apply: exit %d, stdout %q", code, out)
		}
		rtOneLine(t, errs, "the server did not apply the plan: another apply is running")
	})
	t.Run("engine failure", func(t *testing.T) {
		srv := newRTServer(t, rtMap(t, rtBase))
		srv.mig.fail = &net.OpError{Op: "dial", Err: io.ErrUnexpectedEOF}
		dir := rtProject(t, rtWithX, "")
		code, _, errs := rtRun(t, dir, nil, "apply", "--url", srv.URL, "--token", rtToken)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		rtOneLine(t, errs, "the server answered 500", "applying the plan failed")
	})
}

// TestPlanJSONIsServerChanges: --json prints the server's array unchanged
// (re-indented), so scripts see the admin API's fields.
func TestPlanJSONIsServerChanges(t *testing.T) {
	srv := newRTServer(t, rtMap(t, rtBase))
	dir := rtProject(t, rtWithX, "")
	_, out, _ := rtRun(t, dir, nil, "plan", "--json", "--url", srv.URL, "--token", rtToken)
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(got) != 1 || got[0]["kind"] != "add_column" || got[0]["object"] != "column PageView.x" ||
		got[0]["destructive"] != false || !strings.HasPrefix(got[0]["ddl"].(string), "ALTER TABLE") {
		t.Errorf("changes = %v", got)
	}
}

// planFixture reads a shared plan fixture (internal/admin/testdata/projects).
func planFixture(name string) string {
	b, err := os.ReadFile(filepath.Join("../../internal/admin/testdata/projects", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}
