package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// loadModel is Events with the APIs the durability checks read.
const loadModel = eventsModel + `
[[api]]
name = "count_distinct"
sql = "SELECT count(DISTINCT id) AS n FROM Events"

[[api]]
name = "all_ids"
sql = "SELECT id FROM Events"
`

func TestRestartKeepsData(t *testing.T) {
	requireEngine(t)
	s := startServer(t, serverOpts{Models: map[string]string{"events.toml": loadModel}})
	for _, body := range []string{`[{"id":"a"},{"id":"b"},{"id":"c"}]`, `{"id":"d"}`, `{"id":"e"}`} {
		if r := s.ingest(t, "Events", body); r.Status != http.StatusOK {
			t.Fatalf("ingest %s: %s", body, r)
		}
	}
	if n := s.count(t, "count_rows"); n != 5 {
		t.Fatalf("count before restart = %d, want 5", n)
	}
	if code := s.stop(20 * time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit code %d, want 0:\n%s", code, s.Out.String())
	}

	s2 := s.restart(t)
	if n := s2.count(t, "count_rows"); n != 5 {
		t.Errorf("count after restart = %d, want 5", n)
	}
	if strings.Contains(s2.Out.String(), "create_table") {
		t.Errorf("restart re-created a table:\n%s", s2.Out.String())
	}
	if r := s2.ingest(t, "Events", `{"id":"f"}`); r.Status != http.StatusOK {
		t.Fatalf("ingest after restart: %s", r)
	}
	if n := s2.count(t, "count_rows"); n != 6 {
		t.Errorf("count after one more = %d, want 6", n)
	}
}

// load posts small batches of unique ids from several goroutines and
// remembers every id whose request was answered 200.
type load struct {
	mu       sync.Mutex
	acked    []string
	requests int
	failures int // transport errors and non-200 answers
	codes    map[int]int
	wg       sync.WaitGroup

	mark      time.Time // see markNow
	afterMark int       // requests acknowledged after mark
}

// markNow notes the time of a signal, to count the requests acknowledged
// after it (in flight when it was sent).
func (l *load) markNow() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mark = time.Now()
}

func startLoad(ctx context.Context, baseURL string, workers, batch int) *load {
	l := &load{codes: map[int]int{}}
	c := &http.Client{Timeout: 15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				ids := make([]string, batch)
				var b bytes.Buffer
				b.WriteByte('[')
				for j := range ids {
					ids[j] = fmt.Sprintf("w%d-r%d-%d", w, i, j)
					if j > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"id":%q}`, ids[j])
				}
				b.WriteByte(']')
				code := 0
				resp, err := c.Post(baseURL+"/ingest/Events", "application/json", &b)
				if err == nil {
					body, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					// Acknowledged means the whole answer arrived.
					if rerr == nil && resp.StatusCode == http.StatusOK && string(body) == "SUCCESS" {
						code = http.StatusOK
					} else {
						code = resp.StatusCode
					}
				}
				l.mu.Lock()
				l.requests++
				l.codes[code]++
				if code == http.StatusOK {
					l.acked = append(l.acked, ids...)
					if !l.mark.IsZero() {
						l.afterMark++
					}
				} else {
					l.failures++
				}
				l.mu.Unlock()
				if code != http.StatusOK {
					time.Sleep(10 * time.Millisecond) // the server is gone: don't spin
				}
			}
		}()
	}
	return l
}

func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitAcked waits until at least n ids are acknowledged (at most d).
func (l *load) waitAcked(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for l.ackedCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("load: only %d ids acknowledged after %v", l.ackedCount(), d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkAcked asserts that every acknowledged id is stored, once.
func checkAcked(t *testing.T, s *server, l *load) {
	t.Helper()
	t.Logf("load: %d requests, %d acknowledged ids, answers %v", l.requests, len(l.acked), l.codes)
	n := s.count(t, "count_rows")
	distinct := s.count(t, "count_distinct")
	if n < int64(len(l.acked)) {
		t.Errorf("rows = %d, fewer than the %d acknowledged", n, len(l.acked))
	}
	if distinct != n {
		t.Errorf("rows = %d but distinct ids = %d: some record was stored twice", n, distinct)
	}
	stored := map[string]bool{}
	for _, r := range s.query(t, "all_ids", nil) {
		stored[fmt.Sprint(r["id"])] = true
	}
	missing := 0
	for _, id := range l.acked {
		if !stored[id] {
			if missing < 10 {
				t.Errorf("acknowledged id %s is not stored", id)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged ids are missing", missing, len(l.acked))
	}
}

// TestKill9LosesNoAcknowledgedRow: SIGKILL in the middle of a load, then a
// restart on the same directory: every record answered 200 is there.
func TestKill9LosesNoAcknowledgedRow(t *testing.T) {
	requireEngine(t)
	if testing.Short() {
		t.Skip("-short: slow load test")
	}
	s := startServer(t, serverOpts{Models: map[string]string{"events.toml": loadModel}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := startLoad(ctx, s.BaseURL, 8, 10)
	l.waitAcked(t, 200, 20*time.Second)
	time.Sleep(1500 * time.Millisecond)
	s.kill()
	if st := s.Cmd.ProcessState.Sys().(syscall.WaitStatus); !st.Signaled() || st.Signal() != syscall.SIGKILL {
		t.Fatalf("the server was not killed by SIGKILL: %v", s.Cmd.ProcessState)
	}
	time.Sleep(200 * time.Millisecond) // requests in flight see the dead connection
	cancel()
	l.wg.Wait()

	s2 := s.restart(t)
	checkAcked(t, s2, l)
}

// TestGracefulShutdownUnderLoad: SIGTERM in the middle of a load: the
// process exits 0, and every record answered 200 is stored.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	requireEngine(t)
	if testing.Short() {
		t.Skip("-short: slow load test")
	}
	s := startServer(t, serverOpts{Models: map[string]string{"events.toml": loadModel}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := startLoad(ctx, s.BaseURL, 8, 10)
	l.waitAcked(t, 200, 20*time.Second)
	time.Sleep(time.Second)
	l.markNow()
	if err := s.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !s.waitExit(40 * time.Second) {
		t.Fatalf("the server did not exit within 40s of SIGTERM")
	}
	cancel()
	l.wg.Wait()
	if code := s.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0 (%v)", code, s.Cmd.ProcessState)
	}
	out := s.Out.String()
	for _, want := range []string{"shutting down", "msg=stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not contain %q", want)
		}
	}
	t.Logf("%d requests were acknowledged after SIGTERM was sent (in flight, finished by the graceful shutdown)", l.afterMark)
	s2 := s.restart(t)
	checkAcked(t, s2, l)
}
