// Command scaleout benchmarks moose at scale: a `moose prod` replica on a
// ClickHouse server ([engine] kind = "clickhouse") with Kafka between ingest
// and the table ([features] streaming_engine = true).
//
//	go run ./bench/scaleout [-duration 10s] [-conns 32] [-batch 100]
//
// It builds ./cmd/moose, starts an in-process Kafka cluster of 3 brokers
// (franz-go's kfake, real TCP and wire protocol), a private ClickHouse server
// with scripts/clickhouse-server.sh, and one replica, then measures with its
// own HTTP load generator:
//
//   - ingest requests/s and rows/s with 1 record per POST and with -batch
//     records per POST (-conns concurrent connections, -duration each);
//   - the time from a 200 to the row being queryable in ClickHouse (p50,
//     p99), for a sample of single-record requests sent while each load runs
//     and with the server otherwise idle: the sampler notes when the 200
//     arrives and a poller queries ClickHouse every few milliseconds until
//     the id is there;
//   - at the end, that the table holds every acknowledged row exactly once.
//
// kfake, ClickHouse, moose and the load generator share the machine, so the
// figures are a floor for what one replica does on dedicated hardware.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

const (
	db    = "bench"
	model = `
[[data_model]]
name = "Events"
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true
  [[data_model.columns]]
  name = "ts"
  type = "DateTime"
  [[data_model.columns]]
  name = "path"
  type = "String"
  [[data_model.columns]]
  name = "user_id"
  type = "String"
  [[data_model.columns]]
  name = "duration_ms"
  type = "Float64"

[[api]]
name = "count_rows"
sql = "SELECT count() AS n FROM Events"
`
)

var (
	duration = flag.Duration("duration", 10*time.Second, "length of each load phase")
	conns    = flag.Int("conns", 32, "concurrent connections of the load generator")
	batch    = flag.Int("batch", 100, "records per POST in the batch phase")
	samples  = flag.Int("idle-samples", 100, "visibility samples with no other load")
	keep     = flag.Bool("keep", false, "keep the work directory (logs, ClickHouse data)")
	logLevel = flag.String("log-level", "warn", "MOOSE_LOG_LEVEL of the replica (its log is proj/moose.log in the work directory)")
)

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "moose-bench-scaleout-")
	if err != nil {
		return err
	}
	defer func() {
		if *keep {
			fmt.Println("work directory kept:", work)
		} else {
			os.RemoveAll(work)
		}
	}()

	bin := filepath.Join(work, "moose")
	build := exec.Command("go", "build", "-o", bin, "./cmd/moose")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/moose: %w\n%s", err, out)
	}

	kc, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		return fmt.Errorf("kfake: %w", err)
	}
	defer kc.Close()

	ch, err := startClickHouse(root, filepath.Join(work, "clickhouse"))
	if err != nil {
		return err
	}
	defer ch.stop()
	chVersion, _ := ch.query("SELECT version()")

	token, hash, err := hashToken(bin)
	if err != nil {
		return err
	}
	srv, err := startMoose(ctx, bin, filepath.Join(work, "proj"), ch.port, strings.Join(kc.ListenAddrs(), ","), hash)
	if err != nil {
		return err
	}
	defer srv.stop()

	printMachine(strings.TrimSpace(chVersion))
	fmt.Printf("setup: 1 moose prod replica, [engine] kind = \"clickhouse\", [features] streaming_engine = true; kfake 3 brokers in-process "+
		"(topic 4 partitions, replication_factor 3); load generator: %d connections, %v per phase\n\n", *conns, *duration)

	lg := &loadGen{url: srv.base + "/ingest/Events", authz: "Bearer " + token,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConns: *conns * 2, MaxIdleConnsPerHost: *conns * 2, MaxConnsPerHost: *conns * 2}}}
	vis := newVisibility(ch, lg)

	// Warm-up: connections, JIT-free but caches and the first parts.
	if _, err := lg.run(ctx, "warm-up", *conns, 1, 2*time.Second, nil); err != nil {
		return err
	}
	for _, ph := range []struct {
		name string
		rows int
	}{{"ingest 1 record/POST", 1}, {fmt.Sprintf("ingest %d records/POST", *batch), *batch}} {
		res, err := lg.run(ctx, ph.name, *conns, ph.rows, *duration, vis)
		if err != nil {
			return err
		}
		res.print()
		if err := waitSettled(ctx, ch, lg, 120*time.Second); err != nil {
			return err
		}
		fmt.Printf("  %-40s %.1f s after the phase ended\n", "table holds every acknowledged row:", time.Since(res.end).Seconds())
	}
	// Idle: only the sampler.
	idle := vis.sampleIdle(ctx, *samples)
	idle.print("200 -> queryable, idle server")

	// Every acknowledged row is there once.
	if err := waitSettled(ctx, ch, lg, 120*time.Second); err != nil {
		return err
	}
	n, distinct, err := ch.counts()
	if err != nil {
		return err
	}
	acked := lg.ackedRows.Load() + vis.ackedRows.Load()
	verdict := "OK"
	if n != distinct || n < acked {
		verdict = "MISMATCH"
	}
	fmt.Printf("\ncheck: %d rows acknowledged, table holds %d rows, %d distinct ids: %s\n", acked, n, distinct, verdict)
	fmt.Printf("moose peak RSS: %s\n", peakRSS(srv.cmd.Process.Pid))
	if verdict != "OK" {
		return errors.New("exactly-once check failed")
	}
	return nil
}

// ---------------------------------------------------------------------------
// Load.

type loadGen struct {
	url, authz string
	client     *http.Client
	seq        atomic.Int64 // request ids
	ackedRows  atomic.Int64
}

type phaseResult struct {
	name           string
	rowsPerRequest int
	elapsed        time.Duration
	ok, failed     int
	lat            []time.Duration
	firstErr       string
	vis            *visResult
	end            time.Time // when the load stopped
}

// run posts bodies of rows records from conns goroutines for d, sampling
// visibility with vis (nil: none) meanwhile.
func (g *loadGen) run(ctx context.Context, name string, conns, rows int, d time.Duration, vis *visibility) (*phaseResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var visDone chan *visResult
	if vis != nil {
		visDone = make(chan *visResult, 1)
		go func() { visDone <- vis.sampleDuring(ctx) }()
	}
	var mu sync.Mutex
	res := &phaseResult{name: name, rowsPerRequest: rows}
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, failed := 0, 0
			var firstErr string
			body := make([]byte, 0, 160*rows)
			for ctx.Err() == nil {
				body = appendRows(body[:0], g.seq.Add(1), rows)
				t0 := time.Now()
				err := g.post(body)
				if err != nil {
					if ctx.Err() != nil {
						break // cut off by the end of the phase
					}
					failed++
					if firstErr == "" {
						firstErr = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				ok++
				g.ackedRows.Add(int64(rows))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.ok += ok
			res.failed += failed
			if res.firstErr == "" {
				res.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.end = time.Now()
	if visDone != nil {
		res.vis = <-visDone
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return res, nil
}

// appendRows writes a JSON array of n rows whose ids start with r<req>-.
func appendRows(b []byte, req int64, n int) []byte {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"r`...)
		b = strconv.AppendInt(b, req, 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","ts":"2024-01-01 00:00:00","path":"/p/`...)
		b = strconv.AppendInt(b, int64(i%50), 10)
		b = append(b, `","user_id":"u`...)
		b = strconv.AppendInt(b, req%97, 10)
		b = append(b, `","duration_ms":12.5}`...)
	}
	return append(b, ']')
}

// post sends body; nil means 200 with the whole SUCCESS body.
func (g *loadGen) post(body []byte) error {
	req, err := http.NewRequest(http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", g.authz)
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(b) != "SUCCESS" {
		return fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

func (r *phaseResult) print() {
	secs := r.elapsed.Seconds()
	rps := float64(r.ok) / secs
	fmt.Printf("%-26s %8.0f req/s %10.0f rows/s   latency p50 %6.2f ms  p99 %6.2f ms   ok %d  failed %d\n",
		r.name+":", rps, rps*float64(r.rowsPerRequest), ms(pct(r.lat, 50)), ms(pct(r.lat, 99)), r.ok, r.failed)
	if r.firstErr != "" {
		fmt.Printf("%-26s first failure: %s\n", "", r.firstErr)
	}
	if r.vis != nil {
		r.vis.print("200 -> queryable, under this load")
	}
}

// ---------------------------------------------------------------------------
// Visibility: from the 200 to the row in ClickHouse.

type visibility struct {
	ch        *clickHouse
	g         *loadGen
	seq       atomic.Int64
	ackedRows atomic.Int64
}

type visResult struct {
	lat     []time.Duration
	lost    int // acknowledged but not visible within the wait
	failed  int // not acknowledged
	maxWait time.Duration
}

func newVisibility(ch *clickHouse, g *loadGen) *visibility { return &visibility{ch: ch, g: g} }

// sampleDuring sends one sample every 50 ms until ctx ends, then waits for
// the last ones to become visible.
func (v *visibility) sampleDuring(ctx context.Context) *visResult {
	return v.sample(func(i int) bool {
		if i > 0 {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(50 * time.Millisecond):
			}
		}
		return ctx.Err() == nil
	})
}

// sampleIdle sends n samples, one every 50 ms.
func (v *visibility) sampleIdle(ctx context.Context, n int) *visResult {
	return v.sample(func(i int) bool {
		if i >= n || ctx.Err() != nil {
			return false
		}
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		return true
	})
}

// sample posts single-record requests while next(i) says so; a poller
// queries ClickHouse for the acknowledged, not yet visible ids every 5 ms.
func (v *visibility) sample(next func(i int) bool) *visResult {
	type pend struct{ acked time.Time }
	var mu sync.Mutex
	pending := map[string]pend{}
	res := &visResult{maxWait: 30 * time.Second}
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		for i := 0; next(i); i++ {
			id := fmt.Sprintf("vis-%d", v.seq.Add(1))
			body := fmt.Sprintf(`[{"id":%q,"ts":"2024-01-01 00:00:00","path":"/vis","user_id":"v","duration_ms":1}]`, id)
			err := v.g.post([]byte(body))
			now := time.Now()
			mu.Lock()
			if err != nil {
				res.failed++
			} else {
				pending[id] = pend{acked: now}
				v.ackedRows.Add(1)
			}
			mu.Unlock()
		}
	}()
	done := false
	var doneAt time.Time
	for {
		select {
		case <-sending:
			if !done {
				done, doneAt = true, time.Now()
			}
		default:
		}
		mu.Lock()
		ids := make([]string, 0, len(pending))
		for id := range pending {
			ids = append(ids, "'"+id+"'")
		}
		mu.Unlock()
		if len(ids) == 0 && done {
			return res
		}
		if done && time.Since(doneAt) > res.maxWait {
			mu.Lock()
			res.lost = len(pending)
			mu.Unlock()
			return res
		}
		if len(ids) > 0 {
			// A row in the answer was visible when the query started (and
			// was not when the previous one did).
			seen := time.Now()
			out, err := v.ch.query("SELECT id FROM `" + db + "`.`Events` WHERE id IN (" + strings.Join(ids, ",") + ")")
			if err == nil {
				mu.Lock()
				sc := bufio.NewScanner(strings.NewReader(out))
				for sc.Scan() {
					if p, ok := pending[sc.Text()]; ok {
						res.lat = append(res.lat, seen.Sub(p.acked))
						delete(pending, sc.Text())
					}
				}
				mu.Unlock()
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *visResult) print(what string) {
	fmt.Printf("  %-40s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (%d samples", what+":",
		ms(pct(r.lat, 50)), ms(pct(r.lat, 99)), ms(pct(r.lat, 100)), len(r.lat))
	if r.failed > 0 {
		fmt.Printf(", %d not acknowledged", r.failed)
	}
	if r.lost > 0 {
		fmt.Printf(", %d NOT VISIBLE after %v", r.lost, r.maxWait)
	}
	fmt.Println(")")
}

// waitSettled waits until the table holds every acknowledged row.
func waitSettled(ctx context.Context, ch *clickHouse, g *loadGen, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		n, _, err := ch.counts()
		if err == nil && n >= g.ackedRows.Load() {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the table holds %d rows, %d were acknowledged (err %v)", n, g.ackedRows.Load(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// ClickHouse, moose, machine.

type clickHouse struct {
	script, dir string
	url         string
	port        int
	hc          *http.Client
}

func startClickHouse(root, dir string) (*clickHouse, error) {
	c := &clickHouse{script: filepath.Join(root, "scripts", "clickhouse-server.sh"), dir: dir,
		hc: &http.Client{Timeout: 30 * time.Second}}
	out, err := exec.Command("bash", c.script, "start", dir).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("starting ClickHouse: %w\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "export MOOSE_TEST_CLICKHOUSE_URL="); ok {
			c.url = strings.TrimSpace(v)
		}
	}
	u, err := url.Parse(c.url)
	if err != nil || c.url == "" {
		c.stop()
		return nil, fmt.Errorf("no ClickHouse URL in the script's output:\n%s", out)
	}
	c.port, _ = strconv.Atoi(u.Port())
	return c, nil
}

func (c *clickHouse) stop() { _ = exec.Command("bash", c.script, "stop", c.dir).Run() }

func (c *clickHouse) query(sql string) (string, error) {
	resp, err := c.hc.Post(c.url+"/", "text/plain", strings.NewReader(sql+" FORMAT TSV"))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ClickHouse %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

func (c *clickHouse) counts() (n, distinct int64, err error) {
	out, err := c.query("SELECT count(), uniqExact(id) FROM `" + db + "`.`Events`")
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscan(out, &n, &distinct)
	return n, distinct, err
}

type mooseServer struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

func startMoose(ctx context.Context, bin, dir string, chPort int, brokers, hash string) (*mooseServer, error) {
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		return nil, err
	}
	port, mport, err := freePorts()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`source_dir = "app"

[http_server_config]
host = "127.0.0.1"
port = %d
management_port = %d

[engine]
kind = "clickhouse"

[clickhouse_config]
host = "127.0.0.1"
host_port = %d
user = "default"
password = ""
db_name = %q

[features]
streaming_engine = true

[redpanda_config]
broker = %q
partitions = 4
replication_factor = 3
`, port, mport, chPort, db, brokers)
	if err := os.WriteFile(filepath.Join(dir, "moose.config.toml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "events.toml"), []byte(model), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "moose.log"))
	if err != nil {
		return nil, err
	}
	s := &mooseServer{base: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{})}
	s.cmd = exec.Command(bin, "prod")
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), "MOOSE_INGEST_API_KEY="+hash, "MOOSE_CONSUMPTION_API_KEY="+hash, "MOOSE_LOG_LEVEL="+*logLevel)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { s.cmd.Wait(); logf.Close(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			b, _ := os.ReadFile(filepath.Join(dir, "moose.log"))
			return nil, fmt.Errorf("moose prod exited during start-up:\n%s", b)
		default:
		}
		if resp, err := http.Get(s.base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, errors.New("moose prod did not answer /health within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *mooseServer) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func freePorts() (int, int, error) {
	var ports []int
	for len(ports) < 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
	}
	if ports[0] == ports[1] {
		return freePorts()
	}
	return ports[0], ports[1], nil
}

// hashToken makes an API key with `moose generate hash-token --json`.
func hashToken(bin string) (token, hash string, err error) {
	out, err := exec.Command(bin, "generate", "hash-token", "--json").Output()
	if err != nil {
		return "", "", fmt.Errorf("moose generate hash-token: %w", err)
	}
	var v struct {
		Hash  string `json:"api_key_hash"`
		Token string `json:"bearer_token"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Hash == "" || v.Token == "" {
		return "", "", fmt.Errorf("moose generate hash-token: unexpected output %q (%v)", out, err)
	}
	return v.Token, v.Hash, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the moose module")
	}
	return filepath.Dir(gomod), nil
}

func printMachine(chVersion string) {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				fmt.Sscan(v, &kb)
			}
		}
		mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Printf("machine: %d cores (%s)%s, Linux %s, %s/%s, %s; ClickHouse server %s\n",
		runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.GOOS, runtime.GOARCH, runtime.Version(), chVersion)
}

func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(v, &kb)
			return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
		}
	}
	return "unknown"
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(min(i, len(s))-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
