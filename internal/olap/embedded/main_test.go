package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The engine is one per process and boots once (pitfall 3), so this test
// binary shares one data directory: every test opens its own Store on
// sharedDir (cheap: new pooled connections on the running engine).
var sharedDir string

const helperEnv = "MOOSE_EMBEDDED_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	dir, err := os.MkdirTemp("", "moose-embedded-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireLib fails the test under CI=true when libchdb.so is missing, and
// skips it otherwise.
func requireLib(tb testing.TB) {
	tb.Helper()
	p := ResolveLibPath("")
	if _, err := os.Stat(p); err == nil {
		return
	}
	msg := fmt.Sprintf("chDB library not found at %s: run scripts/install-chdb.sh or set %s", p, EnvLib)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

var logOnce sync.Once

// openShared opens a Store on the shared directory, closed when tb ends.
func openShared(tb testing.TB, opts ...func(*Options)) *Store {
	tb.Helper()
	requireLib(tb)
	o := Options{DataDir: sharedDir}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, o)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// runHelper is the body of a child process started by a test.
func runHelper(mode string) int {
	switch mode {
	case "open":
		// Try to open the directory in MOOSE_EMBEDDED_TEST_DIR and report.
		s, err := Open(context.Background(), Options{DataDir: os.Getenv("MOOSE_EMBEDDED_TEST_DIR")})
		if err != nil {
			fmt.Println("open error:", err)
			return 3
		}
		defer s.Close()
		r, err := s.Query(context.Background(), os.Getenv("MOOSE_EMBEDDED_TEST_SQL"), nil)
		if err != nil {
			fmt.Println("query error:", err)
			return 4
		}
		if len(r.Rows) > 0 {
			fmt.Println("result:", string(r.Rows[0][0]))
		}
		return 0
	}
	fmt.Println("unknown helper mode", mode)
	return 2
}

func helperPath(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(exe)
}
