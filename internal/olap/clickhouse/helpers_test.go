package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moose-go/moose/internal/olap/chsql"
)

const startHint = `no ClickHouse server: start one with
	eval "$(scripts/clickhouse-server.sh start /tmp/ch)"
and set MOOSE_TEST_CLICKHOUSE_URL (the script prints it)`

// serverURL is the test server, or skips (fails under CI=true).
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("MOOSE_TEST_CLICKHOUSE_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI requires a ClickHouse server: .ci/run starts one (MOOSE_TEST_CLICKHOUSE_URL is unset)")
		}
		t.Skip(startHint)
	}
	return u
}

var nonIdent = regexp.MustCompile(`[^a-zA-Z0-9_]+`)

// testDB is a fresh database name for t, dropped when t ends.
func testDB(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := nonIdent.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	db := "moose_test_" + strings.ToLower(name) + "_" + hex.EncodeToString(b[:])
	u := serverURL(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := Open(ctx, Options{URL: u, Database: "default"})
		if err != nil {
			t.Logf("dropping %s: %v", db, err)
			return
		}
		defer s.Close()
		if err := s.exec(ctx, "cleanup", "DROP DATABASE IF EXISTS "+chsql.QuoteIdent(db)); err != nil {
			t.Logf("dropping %s: %v", db, err)
		}
	})
	return db
}

// openStore opens a store on a fresh database; edit adjusts the options.
func openStore(t testing.TB, edit ...func(*Options)) *Store {
	t.Helper()
	o := Options{URL: serverURL(t), Database: testDB(t)}
	for _, e := range edit {
		e(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder is a RoundTripper that keeps a copy of each request's URL and
// headers.
type recorder struct {
	mu   sync.Mutex
	next http.RoundTripper
	reqs []recorded
}

type recorded struct {
	URL    string
	Header http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{URL: req.URL.String(), Header: req.Header.Clone()})
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func newRecorder() (*recorder, *http.Client) {
	r := &recorder{next: http.DefaultTransport}
	return r, &http.Client{Transport: r}
}
