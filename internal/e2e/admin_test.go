package e2e

// End-to-end tests of the admin plane: server-side admin keys, the CLI's
// token precedence, moose plan / apply against a real server, restarts,
// dev hot reload and the reality check.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/embedded"
)

var admBase = planFixture("base.toml")

var admWithX = planFixture("with-x.toml")

var admRetyped = planFixture("retyped.toml")

var admWithAPI = planFixture("with-api.toml")

const admClick = `
[[data_model]]
name = "Click"
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "target"
  type = "String"
`

// admKey returns a token/hash pair made by the reference CLI.
func admKey(t *testing.T, i int) hashVector {
	t.Helper()
	return loadVectors(t)[i]
}

// admClientDir writes a project directory for the CLI (its own files, not
// the server's) and returns it.
func admClientDir(t *testing.T, models, config string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "moose.config.toml"), []byte("source_dir = \"app\"\n"+config), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "app"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "app", "models.toml"), []byte(models), 0o644))
	return dir
}

// admSetModels rewrites a client directory's model file.
func admSetModels(t *testing.T, dir, models string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, "app", "models.toml"), []byte(models), 0o644))
}

// admCLI runs the moose binary in dir with env (plus the engine library)
// and returns its exit code and output.
func admCLI(t *testing.T, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(mooseBin, args...)
	cmd.Dir = dir
	cmd.Env = environ(serverOpts{LogLevel: "warn", Env: env})
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running moose %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// admGolden reads a plan golden file of the CLI's unit tests: the real
// server must print exactly what the fake one did.
func admGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "cmd", "moose", "testdata", "plan", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// admBaseMap is admBase in the map's JSON form.
const admBaseMap = `{"version":1,"apis":[],"data_models":[{"name":"PageView","order_by":["id"],"columns":[` +
	`{"name":"id","type":"String","key":true},{"name":"n","type":"Int64"}]}]}`

// admRoutes is every admin route with a request that is valid (and changes
// nothing) on a server running admBase.
var admRoutes = []struct{ method, path, body string }{
	{"GET", "/admin/inframap", ""},
	{"POST", "/admin/plan", `{"infra_map":` + admBaseMap + `}`},
	{"POST", "/admin/integrate-changes", `{"infra_map":` + admBaseMap + `}`},
	{"GET", "/admin/reality-check", ""},
	{"POST", "/admin/query", `{"sql":"SELECT 1 AS one"}`},
}

// admJWT is a minimal RS256 signer for one key pair.
type admJWT struct {
	key *rsa.PrivateKey
	pem string
}

func newAdmJWT(t *testing.T) *admJWT {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	must(t, err)
	return &admJWT{key: k, pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

func (j *admJWT) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, j.key, crypto.SHA256, sum[:])
	must(t, err)
	return in + "." + enc.EncodeToString(sig)
}

// TestAdminServerKeys: where the server takes its admin key from, and that
// /admin/* accepts that key only (never a JWT, never the hash itself) and
// fails closed when no key is set.
func TestAdminServerKeys(t *testing.T) {
	t.Parallel()
	kA, kB := admKey(t, 0), admKey(t, 1)
	jk := newAdmJWT(t)
	jwtConfig := fmt.Sprintf("[jwt]\nsecret = '''\n%s'''\nissuer = \"https://issuer.test\"\naudience = \"moose\"\n", jk.pem)
	cases := []struct {
		name   string
		config string
		env    []string
		good   string // the token that must work ("" = none does)
		jwt    bool
	}{
		{"admin_api_key in config, with JWT configured", "[authentication]\nadmin_api_key = \"" + kA.Hash + "\"\n" + jwtConfig, nil, kA.Token, true},
		{"MOOSE_ADMIN_TOKEN as hash", "", []string{"MOOSE_ADMIN_TOKEN=" + kA.Hash}, kA.Token, false},
		{"MOOSE_ADMIN_TOKEN as plain token", "", []string{"MOOSE_ADMIN_TOKEN=" + kA.Token}, kA.Token, false},
		{"config key wins over MOOSE_ADMIN_TOKEN", "[authentication]\nadmin_api_key = \"" + kA.Hash + "\"\n",
			[]string{"MOOSE_ADMIN_TOKEN=" + kB.Token}, kA.Token, false},
		{"no key: fail closed", "", nil, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{Config: tc.config, Env: tc.env, Models: map[string]string{"models.toml": admBase}})
			var jwtTok string
			if tc.jwt {
				jwtTok = jk.sign(t, map[string]any{"iss": "https://issuer.test", "aud": "moose", "sub": "u1",
					"exp": time.Now().Add(time.Hour).Unix()})
			}
			refused := []string{
				"",                       // no header
				"Bearer " + kB.Token,     // another key's token
				"Bearer " + kA.Hash,      // the hash itself
				"Basic " + kA.Token,      // wrong scheme
				"Bearer " + kA.Token[1:], // mangled
			}
			if tc.good == "" {
				refused = append(refused, "Bearer "+kA.Token, "Bearer "+kB.Token)
			}
			if tc.jwt {
				refused = append(refused, "Bearer "+jwtTok)
			}
			for _, rt := range admRoutes {
				for _, a := range refused {
					var authz []string
					if a != "" {
						authz = []string{a}
					}
					r := s.do(t, rt.method, rt.path, []byte(rt.body), authz...)
					if r.Status != http.StatusUnauthorized {
						t.Errorf("%s %s with %.20q: %s, want 401", rt.method, rt.path, a, r)
						continue
					}
					if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s %s: WWW-Authenticate %q", rt.method, rt.path, r.Header.Get("WWW-Authenticate"))
					}
					if tok := strings.TrimPrefix(strings.TrimPrefix(a, "Bearer "), "Basic "); tok != "" && bytes.Contains(r.Body, []byte(tok)) {
						t.Errorf("%s %s: the 401 body echoes the token", rt.method, rt.path)
					}
				}
				if tc.good != "" {
					r := s.do(t, rt.method, rt.path, []byte(rt.body), "Bearer "+tc.good)
					if r.Status != http.StatusOK {
						t.Errorf("%s %s with the admin token: %s", rt.method, rt.path, r)
					}
				}
			}
			if tc.jwt {
				// The JWT is valid: ingest (JWT only here) takes it.
				if r := s.ingest(t, "PageView", `{"id":"1","n":1}`, "Bearer "+jwtTok); r.Status != http.StatusOK {
					t.Errorf("the JWT is not valid for ingest either (%s): the admin refusal proves nothing", r)
				}
			}
			for _, tok := range []string{kA.Token, kB.Token, kA.Hash, jwtTok} {
				if tok != "" && strings.Contains(s.Out.String(), tok) {
					t.Errorf("the server log contains a token or hash")
				}
			}
		})
	}
}

// TestAdminCLITokenPrecedence runs moose plan against a real server:
// --token beats MOOSE_ADMIN_TOKEN, which beats nothing.
func TestAdminCLITokenPrecedence(t *testing.T) {
	t.Parallel()
	good, bad := admKey(t, 2), admKey(t, 3)
	s := startServer(t, serverOpts{Config: "[authentication]\nadmin_api_key = \"" + good.Hash + "\"\n",
		Models: map[string]string{"models.toml": admBase}})
	dir := admClientDir(t, admBase, "\n[authentication]\nadmin_api_key = \""+good.Hash+"\"\n")
	cases := []struct {
		name string
		args []string
		env  []string
		code int
		want string // stdout, or a part of the one-line error
	}{
		{"flag beats env", []string{"--token", good.Token}, []string{"MOOSE_ADMIN_TOKEN=" + bad.Token}, 0, "No changes.\n"},
		{"flag beats env (refused)", []string{"--token", bad.Token}, []string{"MOOSE_ADMIN_TOKEN=" + good.Token}, 1, "refused the admin token (401)"},
		{"env alone", nil, []string{"MOOSE_ADMIN_TOKEN=" + good.Token}, 0, "No changes.\n"},
		{"env alone (refused)", nil, []string{"MOOSE_ADMIN_TOKEN=" + bad.Token}, 1, "refused the admin token (401)"},
		{"neither", nil, nil, 1, "pass --token <token> or set MOOSE_ADMIN_TOKEN"},
		{"config hash is not a token", nil, nil, 1, "cannot be sent as a token"},
		{"hash as token", []string{"--token", good.Hash}, nil, 1, "looks like a PBKDF2 hash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"plan", "--url", s.BaseURL}, tc.args...)
			code, out, errs := admCLI(t, dir, tc.env, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out, errs)
			}
			if tc.code == 0 && out != tc.want {
				t.Errorf("stdout %q, want %q", out, tc.want)
			}
			if tc.code != 0 && (!strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1) {
				t.Errorf("stderr %q, want one line containing %q", errs, tc.want)
			}
			if strings.Contains(errs, good.Token) || strings.Contains(errs, bad.Token) {
				t.Error("the error echoes a token")
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		code, _, errs := admCLI(t, dir, nil, "plan", "--url", "http://127.0.0.1:1", "--token", good.Token)
		if code != 1 || !strings.HasPrefix(errs, "moose plan: cannot reach moose at http://127.0.0.1:1") || strings.Count(errs, "\n") != 1 {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("not a moose server", func(t *testing.T) {
		code, _, errs := admCLI(t, dir, nil, "plan", "--url", s.MgmtURL, "--token", good.Token)
		if code != 1 || strings.Count(errs, "\n") != 1 {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
}

// TestAdminPlanApply drives one dev server from an empty project through
// remote plans and applies, checking the CLI output against the golden
// files of the CLI's unit tests and that each applied change is live at
// once (no restart).
func TestAdminPlanApply(t *testing.T) {
	t.Parallel()
	k := admKey(t, 0)
	s := startServer(t, serverOpts{Config: "[authentication]\nadmin_api_key = \"" + k.Hash + "\"\n",
		Models: map[string]string{"models.toml": "# empty\n"}})
	dir := admClientDir(t, admBase, "")
	env := []string{"MOOSE_ADMIN_TOKEN=" + k.Token}
	cli := func(t *testing.T, wantCode int, args ...string) (string, string) {
		t.Helper()
		code, out, errs := admCLI(t, dir, env, append(args, "--url", s.BaseURL)...)
		if code != wantCode {
			t.Fatalf("moose %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errs)
		}
		return out, errs
	}
	check := func(t *testing.T, got, golden string) {
		t.Helper()
		if want := admGolden(t, golden); got != want {
			t.Errorf("output differs from cmd/moose/testdata/plan/%s.golden:\n--- got\n%s--- want\n%s", golden, got, want)
		}
	}

	if r := s.ingest(t, "PageView", `{"id":"a","n":1}`); r.Status != http.StatusNotFound {
		t.Fatalf("ingest before apply: %s, want 404", r)
	}
	out, _ := cli(t, 0, "plan")
	check(t, out, "add-table")
	if out, _ = cli(t, 0, "remote", "plan"); out != admGolden(t, "add-table") {
		t.Errorf("moose remote plan differs from moose plan:\n%s", out)
	}
	cli(t, 0, "apply")
	if r := s.ingest(t, "PageView", `{"id":"a","n":1}`); r.Status != http.StatusOK {
		t.Fatalf("ingest into the applied model: %s", r)
	}

	for _, c := range []struct{ models, golden string }{
		{admWithX, "add-column"}, {admRetyped, "change-type"}, {admWithAPI, "add-api"},
	} {
		admSetModels(t, dir, c.models)
		out, _ := cli(t, 0, "plan")
		check(t, out, c.golden)
	}
	// plan --json is the server's array.
	admSetModels(t, dir, admWithX)
	out, _ = cli(t, 0, "plan", "--json")
	var changes []map[string]any
	if err := json.Unmarshal([]byte(out), &changes); err != nil || len(changes) != 1 || changes[0]["kind"] != "add_column" {
		t.Errorf("plan --json: %v %s", err, out)
	}

	out, _ = cli(t, 0, "apply")
	check(t, out, "apply-add-column")
	if r := s.ingest(t, "PageView", `{"id":"b","n":2,"x":1.5}`); r.Status != http.StatusOK {
		t.Fatalf("ingest with the applied column: %s", r)
	}
	admSetModels(t, dir, admBase)
	out, _ = cli(t, 0, "plan")
	check(t, out, "drop-column")

	// Destructive: refused without the flag, nothing changes.
	admSetModels(t, dir, admRetyped)
	before := s.do(t, "GET", "/admin/inframap", nil, "Bearer "+k.Token)
	out, errs := cli(t, 1, "apply")
	check(t, out, "apply-destructive-refused")
	if !strings.Contains(errs, "re-run with --allow-destructive") || strings.Count(errs, "\n") != 1 {
		t.Errorf("stderr %q", errs)
	}
	if after := s.do(t, "GET", "/admin/inframap", nil, "Bearer "+k.Token); !bytes.Equal(before.Body, after.Body) {
		t.Error("a refused apply changed the running map")
	}
	if r := s.ingest(t, "PageView", `{"id":"c","n":3,"x":2.5}`); r.Status != http.StatusOK {
		t.Errorf("after a refused apply, ingest with x: %s", r)
	}
	r := s.do(t, "POST", "/admin/integrate-changes", admRetypedBody(t, false), "Bearer "+k.Token)
	if r.Status != http.StatusConflict || !bytes.Contains(r.Body, []byte(`"destructive"`)) {
		t.Errorf("integrate-changes without allow_destructive: %s", r)
	}

	out, _ = cli(t, 0, "apply", "--allow-destructive")
	check(t, out, "apply-destructive-allowed")
	if r := s.ingest(t, "PageView", `{"id":"d","n":"four","x":1}`); r.Status != http.StatusBadRequest {
		t.Errorf("ingest with the dropped column: %s, want 400", r)
	}
	if r := s.ingest(t, "PageView", `{"id":"d","n":"four"}`); r.Status != http.StatusOK {
		t.Errorf("ingest with the retyped column: %s", r)
	}
	out, _ = cli(t, 0, "plan")
	if out != "No changes.\n" {
		t.Errorf("plan after apply: %q", out)
	}
	rc := admReality(t, s, k.Token)
	if !rc.InSync {
		t.Errorf("reality check after applies: %+v", rc)
	}
}

// admRetypedBody is the integrate-changes request for admRetyped, in the
// map's JSON form (models as declared; the server derives the rest).
func admRetypedBody(t *testing.T, allow bool) []byte {
	t.Helper()
	m := map[string]any{"version": 1, "apis": []any{}, "data_models": []any{
		map[string]any{"name": "PageView", "order_by": []string{"id"}, "columns": []any{
			map[string]any{"name": "id", "type": "String", "key": true},
			map[string]any{"name": "n", "type": "String"},
		}}}}
	body, err := json.Marshal(map[string]any{"infra_map": m, "allow_destructive": allow})
	must(t, err)
	return body
}

type admRealityCheck struct {
	InSync      bool             `json:"in_sync"`
	Differences []map[string]any `json:"differences"`
}

func admReality(t *testing.T, s *server, token string) admRealityCheck {
	t.Helper()
	r := s.do(t, "GET", "/admin/reality-check", nil, "Bearer "+token)
	if r.Status != http.StatusOK {
		t.Fatalf("reality-check: %s", r)
	}
	var rc admRealityCheck
	must(t, json.Unmarshal(r.Body, &rc))
	return rc
}

// admSpecMap is a map of n one-column models named prefix0..prefix(n-1).
func admSpecMap(prefix string, n int) map[string]any {
	var ms []any
	for i := range n {
		ms = append(ms, map[string]any{"name": fmt.Sprintf("%s%d", prefix, i), "columns": []any{
			map[string]any{"name": "id", "type": "String", "key": true}}})
	}
	return map[string]any{"version": 1, "data_models": ms, "apis": []any{}}
}

// TestAdminConcurrentApply: while one apply runs, a second is refused with
// 409 (busy), and the running map is the winner's. One apply creates many
// tables so that it is still running when the other arrives; if the engine
// was too fast for them to overlap (both succeed, one after the other), the
// attempt is repeated with more tables. Either way, the running map is
// exactly one of the two.
func TestAdminConcurrentApply(t *testing.T) {
	t.Parallel()
	k := admKey(t, 1)
	s := startServer(t, serverOpts{Config: "[authentication]\nadmin_api_key = \"" + k.Hash + "\"\n"})
	authz := "Bearer " + k.Token
	n := 40
	for attempt := 1; ; attempt++ {
		pa, pb := fmt.Sprintf("A%d_", attempt), fmt.Sprintf("B%d_", attempt)
		bodyA, _ := json.Marshal(map[string]any{"infra_map": admSpecMap(pa, n), "allow_destructive": true})
		bodyB, _ := json.Marshal(map[string]any{"infra_map": admSpecMap(pb, 1), "allow_destructive": true})
		var ra reply
		var errA error
		done := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done)
			ra, errA = s.try("POST", "/admin/integrate-changes", bodyA, authz)
		}()
		time.Sleep(30 * time.Millisecond)
		rb := s.do(t, "POST", "/admin/integrate-changes", bodyB, authz)
		<-done
		took := time.Since(start)
		if errA != nil {
			t.Fatal(errA)
		}
		cur := string(s.do(t, "GET", "/admin/inframap", nil, authz).Body)
		hasA, hasB := strings.Contains(cur, `"`+pa+`0"`), strings.Contains(cur, `"`+pb+`0"`)
		if hasA == hasB {
			t.Fatalf("the running map is not exactly one apply's (A %v, B %v)", hasA, hasB)
		}
		busy := func(r reply) bool {
			return r.Status == http.StatusConflict && strings.Contains(string(r.Body), "another apply is running") &&
				!strings.Contains(string(r.Body), `"destructive"`)
		}
		switch {
		case ra.Status == http.StatusOK && busy(rb):
			if !hasA {
				t.Error("B was refused but the running map is B's")
			}
			t.Logf("attempt %d: %d tables took %v; the second apply was refused", attempt, n, took)
			return
		case rb.Status == http.StatusOK && busy(ra):
			if !hasB {
				t.Error("A was refused but the running map is A's")
			}
			t.Logf("attempt %d: B overtook A and A was refused", attempt)
			return
		case ra.Status == http.StatusOK && rb.Status == http.StatusOK:
			// Sequential, not concurrent: try again, slower.
			if attempt == 4 {
				t.Fatalf("could not make two applies overlap (last: %d tables in %v)", n, took)
			}
			n *= 3
		default:
			t.Fatalf("unexpected answers:\nA: %.300s\nB: %.300s", ra, rb)
		}
	}
}

// TestAdminAppliedMapSurvivesRestart: `moose prod` with unchanged project
// files comes back with the map applied remotely; changed files win.
func TestAdminAppliedMapSurvivesRestart(t *testing.T) {
	t.Parallel()
	k := admKey(t, 2)
	o := serverOpts{Mode: "prod",
		Config: "[authentication]\nallow_unauthenticated = true\nadmin_api_key = \"" + k.Hash + "\"\n",
		Models: map[string]string{"models.toml": admBase}}
	s := startServer(t, o)
	dir := admClientDir(t, admBase+admClick, "")
	if code, out, errs := admCLI(t, dir, nil, "apply", "--url", s.BaseURL, "--token", k.Token); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	if r := s.ingest(t, "Click", `{"id":"1","target":"buy"}`); r.Status != http.StatusOK {
		t.Fatalf("ingest into the applied model: %s", r)
	}
	if code := s.stop(15 * time.Second); code != 0 {
		t.Fatalf("stop: exit %d", code)
	}

	s2 := s.restart(t)
	if r := s2.ingest(t, "Click", `{"id":"2","target":"sell"}`); r.Status != http.StatusOK {
		t.Fatalf("after a restart with unchanged files, ingest into the applied model: %s", r)
	}
	if r := s2.ingest(t, "PageView", `{"id":"1","n":1}`); r.Status != http.StatusOK {
		t.Fatalf("after a restart, ingest into the original model: %s", r)
	}
	if code, out, _ := admCLI(t, dir, nil, "plan", "--url", s2.BaseURL, "--token", k.Token); code != 0 || out != "No changes.\n" {
		t.Errorf("plan of the applied files after restart: exit %d %q", code, out)
	}
	if code := s2.stop(15 * time.Second); code != 0 {
		t.Fatalf("stop: exit %d", code)
	}

	// The files change: they win, and the remotely applied route is gone.
	o2 := o
	o2.Dir = s.Dir
	o2.Models = map[string]string{"models.toml": admWithX}
	s3 := startServer(t, o2)
	if r := s3.ingest(t, "Click", `{"id":"3","target":"x"}`); r.Status != http.StatusNotFound {
		t.Errorf("after a restart with changed files, the applied-only model: %s, want 404", r)
	}
	if r := s3.ingest(t, "PageView", `{"id":"2","n":2,"x":0.5}`); r.Status != http.StatusOK {
		t.Errorf("after a restart with changed files, the files' new column: %s", r)
	}
}

// TestAdminDevHotReload: `moose dev` picks up a new column within 2 s; a
// broken file leaves the running map in place and says why.
func TestAdminDevHotReload(t *testing.T) {
	t.Parallel()
	k := admKey(t, 3)
	s := startServer(t, serverOpts{Config: "[authentication]\nadmin_api_key = \"" + k.Hash + "\"\n",
		Models: map[string]string{"models.toml": admBase}})
	if rc := admReality(t, s, k.Token); !rc.InSync || len(rc.Differences) != 0 {
		t.Fatalf("reality check after start: %+v", rc)
	}
	row := `{"id":"1","n":1,"x":0.25}`
	if r := s.ingest(t, "PageView", row); r.Status != http.StatusBadRequest {
		t.Fatalf("before the edit, an unknown field: %s, want 400", r)
	}
	models := filepath.Join(s.Dir, "app", "models.toml")
	must(t, os.WriteFile(models, []byte(admWithX), 0o644))
	start := time.Now()
	for {
		r := s.ingest(t, "PageView", row)
		if r.Status == http.StatusOK {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the new column is not live 2 s after the edit: %s", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("new column live after %v", time.Since(start))
	admWait(t, s, "project files changed", 2*time.Second)
	if rc := admReality(t, s, k.Token); !rc.InSync {
		t.Errorf("reality check after the reload: %+v", rc)
	}

	// A broken file: the running map stays.
	must(t, os.WriteFile(models, []byte(admWithX+"\n[[data_model]]\nname = \"Broken\"\n  [[data_model.columns]]\n  name = \"a\"\n  type = \"NoSuchType\"\n"), 0o644))
	admWait(t, s, "the project files have errors; still serving the previous version", 3*time.Second)
	if !strings.Contains(s.Out.String(), "NoSuchType") {
		t.Error("the error does not name the bad type")
	}
	if r := s.ingest(t, "PageView", `{"id":"2","n":2,"x":0.5}`); r.Status != http.StatusOK {
		t.Errorf("after a broken edit, ingest: %s", r)
	}
	if r := s.ingest(t, "Broken", `{"a":"1"}`); r.Status != http.StatusNotFound {
		t.Errorf("the broken model got a route: %s", r)
	}
	if s.exited() {
		t.Fatal("the server exited on a broken file")
	}

	// /admin/query is read-only even when a statement is smuggled after
	// a SELECT: the table is still there.
	r := s.do(t, "POST", "/admin/query", []byte(`{"sql":"SELECT 1; DROP TABLE PageView"}`), "Bearer "+k.Token)
	if r.Status != http.StatusBadRequest {
		t.Errorf("a second statement after a SELECT: %s, want 400", r)
	}
	if rc := admReality(t, s, k.Token); !rc.InSync {
		t.Errorf("a read-only query changed the schema: %+v", rc)
	}
}

// admWait waits for text in the server's output.
func admWait(t *testing.T, s *server, text string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(s.Out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not print %q within %v", text, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAdminRealityCheckOutOfSync: a table created behind the server's back
// (the engine opened directly while the server is stopped) shows up in the
// reality check. A table dropped behind its back cannot be observed: every
// start-up recreates the map's tables, and /admin/query is read-only.
func TestAdminRealityCheckOutOfSync(t *testing.T) {
	t.Parallel()
	k := admKey(t, 0)
	s := startServer(t, serverOpts{Config: "[authentication]\nadmin_api_key = \"" + k.Hash + "\"\n",
		Models: map[string]string{"models.toml": admBase}})
	if rc := admReality(t, s, k.Token); !rc.InSync {
		t.Fatalf("reality check after start: %+v", rc)
	}
	if code := s.stop(15 * time.Second); code != 0 {
		t.Fatalf("stop: exit %d", code)
	}
	ctx := context.Background()
	st, err := embedded.Open(ctx, embedded.Options{LibPath: chdbLib, DataDir: filepath.Join(s.Dir, ".moose", "data"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("opening the stopped server's engine: %v", err)
	}
	err = st.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: olap.Table{Name: "Sneaky",
		Columns: []olap.Column{{Name: "id", Type: "String"}}, OrderBy: []string{"id"}}}})
	st.Close()
	must(t, err)
	// The engine keeps its directory (and lock) until it boots on another:
	// move it to a scratch directory so that the server can start again.
	scratch, err := os.MkdirTemp("", "moose-e2e-scratch-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(scratch) })
	other, err := embedded.Open(ctx, embedded.Options{LibPath: chdbLib, DataDir: scratch, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("releasing the data directory: %v", err)
	}
	other.Close()

	s2 := s.restart(t)
	rc := admReality(t, s2, k.Token)
	if rc.InSync || len(rc.Differences) != 1 || rc.Differences[0]["kind"] != "drop_table" || rc.Differences[0]["object"] != "table Sneaky" {
		t.Errorf("reality check with an extra table: %+v", rc)
	}
}

// planFixture reads a shared plan fixture (internal/admin/testdata/projects).
func planFixture(name string) string {
	b, err := os.ReadFile(filepath.Join("../admin/testdata/projects", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}
