package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap/embedded"
)

var (
	mooseBin   string // the binary built by TestMain
	chdbLib    string // libchdb.so, passed to every server as MOOSE_CHDB_LIB
	skipReason string // non-empty: the library is missing and CI is not set
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	chdbLib = embedded.ResolveLibPath("")
	if _, err := os.Stat(chdbLib); err != nil {
		msg := fmt.Sprintf("chDB library not found at %s: run scripts/install-chdb.sh or set %s", chdbLib, embedded.EnvLib)
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "e2e: "+msg+" (CI=true: a missing engine is a failure)")
			return 1
		}
		skipReason = msg
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "moose-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if mooseBin, err = buildMoose(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// buildMoose builds ./cmd/moose from the module root into dir.
func buildMoose(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the module")
	}
	bin := filepath.Join(dir, "moose")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/moose")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/moose: %w\n%s", err, out)
	}
	return bin, nil
}

// requireEngine skips the test when TestMain found no library (never under CI).
func requireEngine(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// syncBuffer is a bytes.Buffer safe for the process's writers and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serverOpts describe a project and how to run it.
type serverOpts struct {
	Mode string // "dev" (default) or "prod"
	// HTTP is extra lines inside [http_server_config] (host and ports are set).
	HTTP string
	// Config is extra tables of moose.config.toml ([jwt], [authentication]).
	Config string
	// Models are files under app/: name -> TOML.
	Models map[string]string
	// DotEnv is the content of .env ("" writes none).
	DotEnv string
	// Env is added to the process environment (after every MOOSE_* variable
	// of the test's own environment is removed).
	Env []string
	// Dir reuses an existing project directory (a restart); its files are
	// rewritten with fresh ports, its data directory is kept.
	Dir string
	// LogLevel is MOOSE_LOG_LEVEL; default "debug", so that a leak at any
	// level shows up in the log assertions.
	LogLevel string
}

// server is one running moose process.
type server struct {
	BaseURL string // http://127.0.0.1:port
	MgmtURL string
	Dir     string
	Cmd     *exec.Cmd
	Out     *syncBuffer // stdout and stderr

	opts serverOpts
	done chan struct{} // closed when the process has exited
}

// freePort asks the kernel for a free TCP port.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeProject writes the project files into dir and returns the ports.
func writeProject(t *testing.T, dir string, o serverOpts) (port, mport int) {
	t.Helper()
	port, mport = freePort(t), freePort(t)
	for mport == port {
		mport = freePort(t)
	}
	cfg := fmt.Sprintf("source_dir = \"app\"\n\n[http_server_config]\nhost = \"127.0.0.1\"\nport = %d\nmanagement_port = %d\n%s\n\n%s\n",
		port, mport, o.HTTP, o.Config)
	must(t, os.WriteFile(filepath.Join(dir, "moose.config.toml"), []byte(cfg), 0o644))
	app := filepath.Join(dir, "app")
	must(t, os.MkdirAll(app, 0o755))
	for name, text := range o.Models {
		must(t, os.WriteFile(filepath.Join(app, name), []byte(text), 0o644))
	}
	if o.DotEnv != "" {
		must(t, os.WriteFile(filepath.Join(dir, ".env"), []byte(o.DotEnv), 0o644))
	}
	return port, mport
}

// environ is the test's environment without MOOSE_* variables, plus the
// engine library and extra.
func environ(o serverOpts) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOOSE_") {
			env = append(env, kv)
		}
	}
	lvl := o.LogLevel
	if lvl == "" {
		lvl = "debug"
	}
	env = append(env, embedded.EnvLib+"="+chdbLib, "MOOSE_LOG_LEVEL="+lvl)
	return append(env, o.Env...)
}

// launch writes the project and starts the process without waiting for it
// to serve. The process is stopped (SIGTERM, then SIGKILL after 10 s) when
// the test ends.
func launch(t *testing.T, o serverOpts) *server {
	t.Helper()
	requireEngine(t)
	return spawn(t, mooseBin, o)
}

// spawn writes the project and starts bin in it (mode dev unless o.Mode),
// stopped when the test ends.
func spawn(t *testing.T, bin string, o serverOpts) *server {
	t.Helper()
	if o.Mode == "" {
		o.Mode = "dev"
	}
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	port, mport := writeProject(t, dir, o)
	s := &server{
		BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		MgmtURL: fmt.Sprintf("http://127.0.0.1:%d", mport),
		Dir:     dir, Out: &syncBuffer{}, opts: o, done: make(chan struct{}),
	}
	s.Cmd = exec.Command(bin, o.Mode)
	s.Cmd.Dir = dir
	s.Cmd.Env = environ(o)
	s.Cmd.Stdout, s.Cmd.Stderr = s.Out, s.Out
	if err := s.Cmd.Start(); err != nil {
		t.Fatalf("starting moose %s: %v", o.Mode, err)
	}
	go func() {
		s.Cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if !s.exited() {
			s.stop(10 * time.Second)
		}
		if t.Failed() {
			t.Logf("moose %s output (%s):\n%s", o.Mode, dir, tail(s.Out.String(), 16<<10))
		}
	})
	return s
}

// startServer starts moose and waits until GET /health answers 200
// (20 s at most, then the test fails with the server's output). A port
// taken between freePort and the server's bind is retried with new ports.
func startServer(t *testing.T, o serverOpts) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s := launch(t, o)
		err := s.waitHealthy(20 * time.Second)
		if err == nil {
			return s
		}
		if attempt < 3 && s.exited() && strings.Contains(s.Out.String(), "address already in use") {
			continue
		}
		t.Fatalf("moose %s: %v:\n%s", s.opts.Mode, err, s.Out.String())
	}
}

func (s *server) waitHealthy(d time.Duration) error {
	deadline := time.Now().Add(d)
	c := &http.Client{Timeout: time.Second}
	for {
		if s.exited() {
			return fmt.Errorf("exited before serving (%s)", s.Cmd.ProcessState)
		}
		resp, err := c.Get(s.BaseURL + "/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no 200 from GET /health within %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart starts a new process on the same project directory.
func (s *server) restart(t *testing.T) *server {
	t.Helper()
	if !s.exited() {
		t.Fatal("restart: the previous process is still running")
	}
	o := s.opts
	o.Dir = s.Dir
	return startServer(t, o)
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to exit.
func (s *server) waitExit(d time.Duration) bool {
	select {
	case <-s.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stop sends SIGTERM and waits up to grace, then SIGKILLs. It returns the
// exit code (-1 when the process had to be killed or died of a signal).
func (s *server) stop(grace time.Duration) int {
	if !s.exited() {
		s.Cmd.Process.Signal(syscall.SIGTERM)
		if !s.waitExit(grace) {
			s.Cmd.Process.Kill()
			<-s.done
			return -1
		}
	}
	return s.Cmd.ProcessState.ExitCode()
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	if !s.exited() {
		s.Cmd.Process.Kill()
		<-s.done
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// reply is a fully read HTTP response.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

var client = &http.Client{Timeout: 30 * time.Second}

// do sends one request. authz holds the Authorization header values to send
// (none: no header).
func (s *server) do(t *testing.T, method, path string, body []byte, authz ...string) reply {
	t.Helper()
	r, err := s.try(method, path, body, authz...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (s *server) try(method, path string, body []byte, authz ...string) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.BaseURL+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, a := range authz {
		req.Header.Add("Authorization", a)
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// ingest posts body to /ingest/<model>.
func (s *server) ingest(t *testing.T, model, body string, authz ...string) reply {
	t.Helper()
	return s.do(t, http.MethodPost, "/ingest/"+model, []byte(body), authz...)
}

// query calls GET /api/<name> and returns its rows; anything but 200 fails
// the test.
func (s *server) query(t *testing.T, name string, params url.Values, authz ...string) []map[string]any {
	t.Helper()
	path := "/api/" + name
	if len(params) > 0 {
		path += "?" + params.Encode()
	}
	r := s.do(t, http.MethodGet, path, nil, authz...)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %s", path, r)
	}
	var rows []map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("GET %s: body is not a JSON array of objects: %v\n%s", path, err, r.Body)
	}
	return rows
}

// count runs an API that returns one row with a column n.
func (s *server) count(t *testing.T, api string, authz ...string) int64 {
	t.Helper()
	rows := s.query(t, api, nil, authz...)
	if len(rows) != 1 {
		t.Fatalf("GET /api/%s: want 1 row, got %v", api, rows)
	}
	return asInt(t, rows[0]["n"])
}

// asInt reads a JSON number, or a number in a string (ClickHouse writes
// 64-bit integers as strings in JSON by default).
func asInt(t *testing.T, v any) int64 {
	t.Helper()
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		t.Fatalf("want a number, got %T %v", v, v)
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("want an integer, got %q", s)
	}
	return n
}

// hashVector is a token/hash pair made by the reference MooseStack CLI.
type hashVector struct {
	Token string `json:"bearer_token"`
	Hash  string `json:"api_key_hash"`
}

var vectors = sync.OnceValues(func() ([]hashVector, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "moose-hash-tokens.json"))
	if err != nil {
		return nil, err
	}
	var f struct{ Pairs []hashVector }
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if len(f.Pairs) != 4 {
		return nil, fmt.Errorf("testdata/moose-hash-tokens.json: want 4 pairs, got %d", len(f.Pairs))
	}
	return f.Pairs, nil
})

func loadVectors(t *testing.T) []hashVector {
	t.Helper()
	v, err := vectors()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
