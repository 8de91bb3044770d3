package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/olaptest"
)

func TestContract(t *testing.T) {
	olaptest.Run(t, func(t *testing.T) olap.Store { return openShared(t) })
}

// Pitfall 1: with chDB's signal handlers on, a nil dereference (SIGSEGV)
// hung the process instead of becoming a Go panic.
func TestGoPanicRecoveredAfterLoad(t *testing.T) {
	s := openShared(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	recovered := func() (r any) {
		defer func() { r = recover() }()
		var p *struct{ x int }
		p.x = 1 // SIGSEGV, which the Go runtime must turn into a panic
		return nil
	}()
	if _, ok := recovered.(interface{ RuntimeError() }); !ok {
		t.Fatalf("recovered %v (%T), want a runtime error", recovered, recovered)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("engine after panic: %v", err)
	}
}

// Pitfall 1: Go's own signal handling still works after the engine booted.
func TestSignalNotifyAfterLoad(t *testing.T) {
	openShared(t)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	defer signal.Stop(ch)
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case sig := <-ch:
		if sig != syscall.SIGUSR1 {
			t.Fatalf("got %v", sig)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGUSR1 not delivered to signal.Notify")
	}
}

// Pitfall 2: parameters live on the connection. Even with one connection
// (every query queued behind the others) each query gets its own values.
func TestParamsPoolOfOne(t *testing.T) {
	s := openShared(t, func(o *Options) { o.PoolSize = 1 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for g := range 6 {
		wg.Go(func() {
			for i := range 20 {
				want := fmt.Sprintf("%d/%d", g, i)
				r, err := s.Query(context.Background(), "SELECT {v:String}", []olap.Param{{Name: "v", Type: "String", Value: want}})
				if err != nil || string(r.Rows[0][0]) != `"`+want+`"` {
					mu.Lock()
					bad = append(bad, fmt.Sprint(want, r, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d wrong answers, first: %s", len(bad), bad[0])
	}
}

// Pitfall 3: a second process on the same directory gets a clear error.
func TestSecondProcessRefused(t *testing.T) {
	openShared(t)
	cmd := exec.Command(helperPath(t))
	cmd.Env = append(os.Environ(), helperEnv+"=open", "MOOSE_EMBEDDED_TEST_DIR="+sharedDir, "MOOSE_EMBEDDED_TEST_SQL=SELECT 1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("helper: %v, output:\n%s", err, out)
	}
	want := "data directory " + sharedDir + " is in use by another moose process"
	if !strings.Contains(string(out), want) {
		t.Fatalf("helper output %q lacks %q", out, want)
	}
}

// Data written by one process is there for the next one.
func TestPersistsAcrossProcesses(t *testing.T) {
	requireLib(t)
	if testing.Short() {
		t.Skip("boots the engine in two child processes")
	}
	dir := t.TempDir()
	run := func(sql string) string {
		cmd := exec.Command(helperPath(t))
		cmd.Env = append(os.Environ(), helperEnv+"=open", "MOOSE_EMBEDDED_TEST_DIR="+dir, "MOOSE_EMBEDDED_TEST_SQL="+sql)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper %q: %v\n%s", sql, err, out)
		}
		return string(out)
	}
	run("CREATE TABLE p (x Int32) ENGINE = MergeTree ORDER BY x")
	run("INSERT INTO p SELECT number FROM numbers(1234)")
	if out := run("SELECT count() FROM p"); !strings.Contains(out, "result: 1234") {
		t.Fatalf("after reopen: %s", out)
	}
}

// Pitfall 3, in-process: one data directory per process.
func TestOtherDirWhileOpenRefused(t *testing.T) {
	openShared(t)
	_, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	if !errors.Is(err, olap.ErrUnavailable) || !strings.Contains(err.Error(), "one data directory per process") {
		t.Fatalf("Open on a second directory: %v", err)
	}
}

// Pitfall 4: out-of-range integers are refused instead of wrapping.
func TestParamRangeChecked(t *testing.T) {
	s := openShared(t)
	for _, p := range []olap.Param{
		{Name: "p", Type: "UInt8", Value: int64(300)},
		{Name: "p", Type: "UInt8", Value: int64(-1)},
		{Name: "p", Type: "Int8", Value: int64(128)},
		{Name: "p", Type: "Nullable(Int16)", Value: uint64(40000)},
		{Name: "p", Type: "Array(UInt32)", Value: []any{int64(1), int64(1 << 33)}},
		{Name: "p", Type: "Int64", Value: uint64(1 << 63)},
	} {
		_, err := s.Query(context.Background(), "SELECT {p:"+p.Type+"}", []olap.Param{p})
		if !errors.Is(err, olap.ErrBadQuery) || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%s %v: %v, want out of range", p.Type, p.Value, err)
		}
	}
}

// Pitfall 5: big batches go in chunks split on line boundaries; a bad line
// in a late chunk still leaves nothing stored.
func TestInsertChunked(t *testing.T) {
	s := openShared(t)
	ctx := context.Background()
	table := "chunked_" + fmt.Sprint(time.Now().UnixNano())
	if err := s.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: olap.Table{Name: table,
		Columns: []olap.Column{{Name: "id", Type: "UInt64"}, {Name: "s", Type: "String"}}, OrderBy: []string{"id"}}}}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", insertChunk+100) // one line longer than a chunk
	var body bytes.Buffer
	n := 0
	for body.Len() < 3*insertChunk {
		fmt.Fprintf(&body, `{"id":%d,"s":"row %d"}`+"\n", n, n)
		n++
	}
	fmt.Fprintf(&body, `{"id":%d,"s":"%s"}`+"\n", n, long)
	n++
	good := body.Bytes()
	bad := append(append([]byte(nil), good...), []byte(`{"id":"bad","s":""}`+"\n")...)
	if err := s.Insert(ctx, table, bad); !errors.Is(err, olap.ErrBadQuery) {
		t.Fatalf("bad batch: %v", err)
	}
	count := func() string {
		r, err := s.Query(ctx, "SELECT count(), max(length(s)) FROM "+table, nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(r.Rows[0][0]) + "," + string(r.Rows[0][1])
	}
	if got := count(); got != "0,0" {
		t.Fatalf("after failed chunked insert: %s rows, want 0", got)
	}
	if err := s.Insert(ctx, table, good); err != nil {
		t.Fatal(err)
	}
	if got, want := count(), fmt.Sprintf("%d,%d", n, len(long)); got != want {
		t.Fatalf("count,maxlen = %s, want %s", got, want)
	}
}

func TestCancelledContext(t *testing.T) {
	s := openShared(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Query(ctx, "SELECT 1", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Query: %v", err)
	}
	if err := s.Insert(ctx, "x", []byte(`{"x":1}`)); !errors.Is(err, context.Canceled) {
		t.Errorf("Insert: %v", err)
	}
}

func TestLibMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libchdb.so")
	_, err := Open(context.Background(), Options{LibPath: missing, DataDir: t.TempDir()})
	if !errors.Is(err, ErrLibMissing) {
		t.Fatalf("Open: %v", err)
	}
	for _, want := range []string{missing, "scripts/install-chdb.sh", EnvLib} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestLibPathResolution(t *testing.T) {
	t.Setenv("MOOSE_CACHE_DIR", "/c")
	t.Setenv(EnvLib, "")
	if got, want := DefaultLibPath(), "/c/chdb/"+LibVersion+"/libchdb.so"; got != want {
		t.Errorf("DefaultLibPath = %s, want %s", got, want)
	}
	t.Setenv("MOOSE_CACHE_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "/x")
	if got, want := ResolveLibPath(""), "/x/moose/chdb/"+LibVersion+"/libchdb.so"; got != want {
		t.Errorf("ResolveLibPath = %s, want %s", got, want)
	}
	t.Setenv(EnvLib, "/env/lib.so")
	if got := ResolveLibPath(""); got != "/env/lib.so" {
		t.Errorf("env: %s", got)
	}
	if got := ResolveLibPath("/opt/x.so"); got != "/opt/x.so" {
		t.Errorf("explicit: %s", got)
	}
}

func TestSplitNullable(t *testing.T) {
	for in, want := range map[string]string{
		"String": "String/false", "Nullable(String)": "String/true", "Nullable(Decimal(18, 4))": "Decimal(18, 4)/true",
		"LowCardinality(String)": "LowCardinality(String)/false", "LowCardinality(Nullable(String))": "LowCardinality(String)/true",
		"Array(Nullable(Int32))": "Array(Nullable(Int32))/false",
	} {
		typ, n := SplitNullable(in)
		if got := fmt.Sprintf("%s/%v", typ, n); got != want {
			t.Errorf("SplitNullable(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestParseOrderBy(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "tuple()": "", "id": "id", "a, b": "a|b", "`odd name`, c": "odd name|c",
		"toDate(ts), id": "toDate(ts)|id", "`a\\`b`": "a`b", "`x,y`, z": "x,y|z",
	} {
		if got := strings.Join(ParseOrderBy(in), "|"); got != want {
			t.Errorf("ParseOrderBy(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEngineErrorMapping(t *testing.T) {
	for msg, want := range map[string]error{
		"Code: 60. DB::Exception: Unknown table expression identifier 'x'. (UNKNOWN_TABLE)": olap.ErrTableNotFound,
		"Code: 81. DB::Exception: Database nope does not exist. (UNKNOWN_DATABASE)\nstack":  olap.ErrTableNotFound,
		"Code: 62. DB::Exception: Syntax error\nmore":                                       olap.ErrBadQuery,
		"something else": olap.ErrBadQuery,
	} {
		err := engineError(msg)
		if !errors.Is(err, want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("engineError(%q) = %v, want %v on one line", msg, err, want)
		}
	}
}

// The journal's replay depends on this: a batch inserted again under the
// same token is stored once, while plain inserts of equal rows both count.
func TestInsertDedup(t *testing.T) {
	s := openShared(t)
	ctx := context.Background()
	tbl := olap.Table{Name: "dedup_t", Columns: []olap.Column{{Name: "a", Type: "UInt64"}}}
	if err := s.Apply(ctx, []olap.Change{{Kind: olap.CreateTable, Table: tbl}}); err != nil {
		t.Fatal(err)
	}
	rows := []byte("{\"a\":1}\n{\"a\":2}\n")
	for range 3 {
		if err := s.InsertDedup(ctx, "dedup_t", rows, "tok-1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.InsertDedup(ctx, "dedup_t", rows, "tok-2"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Insert(ctx, "dedup_t", rows); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Query(ctx, "SELECT count() FROM dedup_t", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Rows[0][0]); got != "8" {
		t.Fatalf("count = %s, want 8 (2 for tok-1 thrice, 2 for tok-2, 2+2 plain)", got)
	}
}
