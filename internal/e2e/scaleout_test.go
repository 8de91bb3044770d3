package e2e

// Scale-out: several `moose prod` replicas on one ClickHouse server with
// Kafka between ingest and the table ([features] streaming_engine). Every
// part is real except the Kafka cluster, which is franz-go's in-process
// kfake (3 brokers on real TCP ports, the real wire protocol). Each test
// starts its own ClickHouse server with scripts/clickhouse-server.sh in a
// private directory (so it can stop and restart it) and its own Kafka
// cluster, so the tests run in parallel.
//
// The check after every fault is the same: once the consumer group has
// caught up, the table holds every record of the topic exactly once
// (count() == uniqExact(id) == sum of the partitions' end offsets) and
// every id whose request was answered 200 is among them.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	soDB        = "scaleout"
	soNamespace = "so"
	soTopic     = soNamespace + ".Events"
	soGroup     = soNamespace + ".moose" // the consumer group every replica joins: "<namespace>.moose" (server.startConsumer)
)

const soModel = `
[[data_model]]
name = "Events"
  [[data_model.columns]]
  name = "id"
  type = "String"
  key = true

[[api]]
name = "count_rows"
sql = "SELECT count() AS n FROM Events"

[[api]]
name = "has_id"
sql = "SELECT count() AS n FROM Events WHERE id = {id:String}"
`

// ---------------------------------------------------------------------------
// A private ClickHouse server.

type soClickHouse struct {
	dir    string
	script string
	url    string // http://127.0.0.1:PORT
	port   int
	hc     *http.Client
}

// soStartClickHouse starts a ClickHouse server in a private directory. It
// skips when clickhouse-server is not installed, except under CI=true,
// where any failure to start is a test failure.
func soStartClickHouse(t *testing.T) *soClickHouse {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if _, err := os.Stat("/usr/sbin/clickhouse-server"); err != nil && !ci {
		t.Skip("clickhouse-server is not installed (scripts/clickhouse-server.sh installs it; CI=true makes this a failure)")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "clickhouse-server.sh"))
	must(t, err)
	c := &soClickHouse{dir: t.TempDir(), script: script, hc: &http.Client{Timeout: 30 * time.Second}}
	out, err := exec.Command("bash", script, "start", c.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("starting ClickHouse (%s start %s): %v\n%s", script, c.dir, err, out)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.dir, "pid")); err == nil {
			if out, err := exec.Command("bash", c.script, "stop", c.dir).CombinedOutput(); err != nil {
				t.Logf("stopping ClickHouse: %v\n%s", err, out)
			}
		}
	})
	env, err := os.ReadFile(filepath.Join(c.dir, "env"))
	must(t, err)
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(line, "export MOOSE_TEST_CLICKHOUSE_URL="); ok {
			c.url = strings.TrimSpace(v)
		}
	}
	u, err := url.Parse(c.url)
	if err != nil || c.url == "" {
		t.Fatalf("no MOOSE_TEST_CLICKHOUSE_URL in %s/env:\n%s", c.dir, env)
	}
	c.port, err = strconv.Atoi(u.Port())
	must(t, err)
	return c
}

// config is the [engine] and [clickhouse_config] of a replica.
func (c *soClickHouse) config() string {
	return fmt.Sprintf("[engine]\nkind = \"clickhouse\"\n\n[clickhouse_config]\nhost = \"127.0.0.1\"\nhost_port = %d\n"+
		"user = \"default\"\npassword = \"\"\ndb_name = %q\n", c.port, soDB)
}

// stop stops the server (SIGTERM, SIGKILL after 10 s); its data stays.
func (c *soClickHouse) stop(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("bash", c.script, "stop", c.dir).CombinedOutput(); err != nil {
		t.Fatalf("stopping ClickHouse: %v\n%s", err, out)
	}
}

// restart starts the server again on the same directory: same config.xml
// (so the same ports, which the replicas are configured with) and the same
// data. The script's start would pick new ports, so this starts the binary
// itself, as the user that owns the data directory, and leaves the PID in
// DIR/pid for the script's stop.
func (c *soClickHouse) restart(t *testing.T) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(c.dir, "data"))
	must(t, err)
	cmd := exec.Command("/usr/sbin/clickhouse-server", "--config-file="+filepath.Join(c.dir, "config.xml"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Getuid() == 0 && st.Uid != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, "log", "restart.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	must(t, err)
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("restarting ClickHouse: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // reaps it, so the script's kill -0 sees it gone
	must(t, os.WriteFile(filepath.Join(c.dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(c.dir, "log", "clickhouse-server.err.log"))
			t.Fatalf("ClickHouse exited during restart:\n%s", tail(string(b), 4<<10))
		default:
		}
		resp, err := c.hc.Get(c.url + "/ping")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.TrimSpace(string(b)) == "Ok." {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("ClickHouse did not answer /ping within 30 s of a restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// query runs sql (TSV output) directly on the server.
func (c *soClickHouse) query(sql string) (string, error) {
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
		return "", fmt.Errorf("ClickHouse %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return string(b), nil
}

// counts returns count() and uniqExact(id) of the table.
func (c *soClickHouse) counts() (n, distinct int64, err error) {
	out, err := c.query("SELECT count(), uniqExact(id) FROM `" + soDB + "`.`Events`")
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscan(out, &n, &distinct); err != nil {
		return 0, 0, fmt.Errorf("reading counts %q: %w", out, err)
	}
	return n, distinct, nil
}

// ---------------------------------------------------------------------------
// An in-process Kafka cluster whose brokers can be stopped.

type soKafka struct {
	c *kfake.Cluster

	mu    sync.Mutex
	conns map[string]map[net.Conn]bool // listen address -> accepted connections
}

// soStartKafka starts 3 kfake brokers. Its listeners remember the
// connections they accept, so that stopping a broker also cuts its clients
// off (kfake's RemoveNode only closes the listener).
func soStartKafka(t *testing.T) *soKafka {
	t.Helper()
	k := &soKafka{conns: map[string]map[net.Conn]bool{}}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ListenFn(func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		return &soListener{Listener: ln, k: k}, nil
	}))
	must(t, err)
	k.c = c
	t.Cleanup(c.Close)
	return k
}

func (k *soKafka) brokers() string { return strings.Join(k.c.ListenAddrs(), ",") }

// config is the [features] and [redpanda_config] of a replica.
func (k *soKafka) config(brokers string) string {
	return fmt.Sprintf("[features]\nstreaming_engine = true\n\n[redpanda_config]\nbroker = %q\nnamespace = %q\n"+
		"partitions = 4\nreplication_factor = 3\nmessage_timeout_ms = 1000\n", brokers, soNamespace)
}

func (k *soKafka) admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.c.ListenAddrs()...))
	must(t, err)
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// stopBroker removes the node and closes every connection it accepted.
// It returns the port to restart it on.
func (k *soKafka) stopBroker(t *testing.T, node int32) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bs, err := k.admin(t).ListBrokers(ctx)
	must(t, err)
	addr := ""
	for _, b := range bs {
		if b.NodeID == node {
			addr = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		}
	}
	if addr == "" {
		t.Fatalf("broker %d not found in %v", node, bs)
	}
	must(t, k.c.RemoveNode(node))
	k.mu.Lock()
	for conn := range k.conns[addr] {
		conn.Close()
	}
	delete(k.conns, addr)
	k.mu.Unlock()
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return p
}

type soListener struct {
	net.Listener
	k *soKafka
}

func (l *soListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	addr := l.Listener.Addr().String()
	l.k.mu.Lock()
	if l.k.conns[addr] == nil {
		l.k.conns[addr] = map[net.Conn]bool{}
	}
	l.k.conns[addr][conn] = true
	l.k.mu.Unlock()
	return conn, nil
}

// endOffsets sums the end offsets of the topic's partitions: the number of
// records in it.
func soEndOffsets(ctx context.Context, adm *kadm.Client) (int64, error) {
	lo, err := adm.ListEndOffsets(ctx, soTopic)
	if err != nil {
		return 0, err
	}
	if err := lo.Error(); err != nil {
		return 0, err
	}
	var sum int64
	lo.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum, nil
}

// committed sums the group's committed offsets on the topic.
func soCommitted(ctx context.Context, adm *kadm.Client) (int64, error) {
	or, err := adm.FetchOffsetsForTopics(ctx, soGroup, soTopic)
	if err != nil {
		return 0, err
	}
	var sum int64
	or.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At > 0 {
			sum += o.At
		}
	})
	return sum, nil
}

// ---------------------------------------------------------------------------
// Replicas.

var (
	soBinOnce sync.Once
	soBin     string
	soBinErr  error
)

// soMooseBinary is the binary TestMain built, or (when TestMain skipped the
// build because chDB is missing, which the ClickHouse engine does not need)
// one built here.
func soMooseBinary(t *testing.T) string {
	t.Helper()
	if mooseBin != "" {
		return mooseBin
	}
	soBinOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "moose-e2e-scaleout-bin")
		if soBinErr = os.MkdirAll(dir, 0o755); soBinErr == nil {
			soBin, soBinErr = buildMoose(dir)
		}
	})
	if soBinErr != nil {
		t.Fatal(soBinErr)
	}
	return soBin
}

// soCluster is a set of replicas on one ClickHouse and one Kafka.
type soCluster struct {
	ch       *soClickHouse
	kafka    *soKafka
	replicas []*server
	ingestAZ string // Authorization header values
	apiAZ    string
	adminAZ  string
}

// soStart starts ClickHouse, Kafka and n `moose prod` replicas (at the
// same time, as a deployment would).
func soStart(t *testing.T, n int) *soCluster {
	t.Helper()
	vecs := loadVectors(t)
	sc := &soCluster{
		ch: soStartClickHouse(t), kafka: soStartKafka(t),
		ingestAZ: "Bearer " + vecs[0].Token, apiAZ: "Bearer " + vecs[1].Token, adminAZ: "Bearer " + vecs[2].Token,
	}
	o := serverOpts{
		Mode:     "prod",
		Config:   sc.ch.config() + "\n" + sc.kafka.config(sc.kafka.brokers()),
		Models:   map[string]string{"events.toml": soModel},
		LogLevel: "info", // debug turns on franz-go's debug log
		Env: []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Hash, "MOOSE_CONSUMPTION_API_KEY=" + vecs[1].Hash,
			"MOOSE_ADMIN_TOKEN=" + vecs[2].Hash},
	}
	for range n {
		sc.replicas = append(sc.replicas, soLaunch(t, o))
	}
	for i, s := range sc.replicas {
		for attempt := 1; ; attempt++ {
			err := s.waitHealthy(40 * time.Second)
			if err == nil {
				break
			}
			if attempt < 3 && s.exited() && strings.Contains(s.Out.String(), "address already in use") {
				o.Dir = s.Dir
				s = soLaunch(t, o)
				sc.replicas[i] = s
				continue
			}
			t.Fatalf("replica %d: %v:\n%s", i, err, s.Out.String())
		}
	}
	return sc
}

// soLaunch is the harness's launch without the chDB requirement.
func soLaunch(t *testing.T, o serverOpts) *server {
	t.Helper()
	return spawn(t, soMooseBinary(t), o)
}

func (sc *soCluster) baseURLs() []string {
	var out []string
	for _, s := range sc.replicas {
		out = append(out, s.BaseURL)
	}
	return out
}

// ---------------------------------------------------------------------------
// Load.

// soLoad posts batches of unique ids from several goroutines, each going
// round the replicas, and remembers every id answered 200 and when.
type soLoad struct {
	mu       sync.Mutex
	acked    []string
	ackAt    []time.Time // one per acknowledged request
	requests int
	answers  map[string]int // "200", "503", "transport error", ...
	examples []string       // a few failure messages
	wg       sync.WaitGroup
}

func soStartLoad(ctx context.Context, targets []string, authz string, workers, batch int, pace time.Duration) *soLoad {
	l := &soLoad{answers: map[string]int{}}
	c := &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				start := time.Now()
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
				answer := l.post(c, targets[(w+i)%len(targets)], authz, &b)
				l.mu.Lock()
				l.requests++
				l.answers[answer]++
				if answer == "200" {
					l.acked = append(l.acked, ids...)
					l.ackAt = append(l.ackAt, time.Now())
				}
				l.mu.Unlock()
				if answer != "200" {
					time.Sleep(20 * time.Millisecond) // don't spin on a dead replica
				} else if d := pace - time.Since(start); d > 0 {
					time.Sleep(d)
				}
			}
		}()
	}
	return l
}

// post sends one batch and names the answer; "200" only when the whole
// SUCCESS body arrived.
func (l *soLoad) post(c *http.Client, base, authz string, body io.Reader) string {
	req, _ := http.NewRequest(http.MethodPost, base+"/ingest/Events", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", authz)
	resp, err := c.Do(req)
	if err != nil {
		l.example(err.Error())
		return "transport error"
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		l.example(err.Error())
		return "transport error"
	}
	if resp.StatusCode == http.StatusOK && string(b) == "SUCCESS" {
		return "200"
	}
	l.example(fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b)))
	return strconv.Itoa(resp.StatusCode)
}

func (l *soLoad) example(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.examples) < 5 {
		l.examples = append(l.examples, msg)
	}
}

// ackedBetween counts the requests acknowledged in [from, to).
func (l *soLoad) ackedBetween(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.ackAt {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

func (l *soLoad) ackedIDs() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

func (l *soLoad) waitAcked(t *testing.T, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for l.ackedIDs() < n {
		if time.Now().After(deadline) {
			t.Fatalf("load: only %d ids acknowledged after %v (answers %v, e.g. %q)", l.ackedIDs(), d, l.answers, l.examples)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *soLoad) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d requests, %d acknowledged ids, answers %v, failures e.g. %q", l.requests, len(l.acked), l.answers, l.examples)
}

// ---------------------------------------------------------------------------
// The check.

// soSettle waits (at most d) until the table holds as many rows as the
// topic holds records and the group has committed them all, then checks
// that every row is there once and every acknowledged id is among them.
func soSettle(t *testing.T, sc *soCluster, l *soLoad, d time.Duration) {
	t.Helper()
	l.wg.Wait()
	t.Logf("load: %s", l)
	adm := sc.kafka.admin(t)
	start := time.Now()
	deadline := start.Add(d)
	var end, committed, n, distinct int64
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		if end, err = soEndOffsets(ctx, adm); err == nil {
			if n, distinct, err = sc.ch.counts(); err == nil {
				committed, err = soCommitted(ctx, adm)
			}
		}
		cancel()
		lastErr = err
		if err == nil && end > 0 && n >= end && committed >= end {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled after %v: topic holds %d records, the group committed %d, the table %d rows (%d distinct ids); last error: %v",
				d, end, committed, n, distinct, lastErr)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("settled %v after the load: %d records, %d rows, %d distinct ids", time.Since(start).Round(time.Millisecond), end, n, distinct)
	if n != distinct {
		t.Errorf("table holds %d rows but %d distinct ids: %d rows stored twice", n, distinct, n-distinct)
	}
	if n != end {
		t.Errorf("table holds %d rows, topic %d records: want one row per record", n, end)
	}
	out, err := sc.ch.query("SELECT id FROM `" + soDB + "`.`Events`")
	if err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]bool, n)
	sc2 := bufio.NewScanner(strings.NewReader(out))
	for sc2.Scan() {
		stored[sc2.Text()] = true
	}
	l.mu.Lock()
	acked := l.acked
	l.mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no request was acknowledged")
	}
	missing := 0
	for _, id := range acked {
		if !stored[id] {
			if missing < 5 {
				t.Errorf("acknowledged id %s is not in ClickHouse", id)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged ids are missing", missing, len(acked))
	}
	// Nothing arrives late: the group has committed everything.
	time.Sleep(500 * time.Millisecond)
	if n2, d2, err := sc.ch.counts(); err != nil || n2 != n || d2 != distinct {
		t.Errorf("after settling: %d rows, %d distinct (err %v); before %d, %d", n2, d2, err, n, distinct)
	}
}

// ---------------------------------------------------------------------------
// Tests.

// TestScaleOutKillReplica: two replicas under load, one SIGKILLed. The
// survivor takes over the dead member's partitions once the group session
// times out (franz-go's default, 45 s), and nothing is lost or duplicated.
func TestScaleOutKillReplica(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: slow scale-out test")
	}
	sc := soStart(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := soStartLoad(ctx, sc.baseURLs(), sc.ingestAZ, 8, 20, 0)
	l.waitAcked(t, 2000, 30*time.Second)
	time.Sleep(1500 * time.Millisecond)
	victim := sc.replicas[1]
	victim.kill()
	if st := victim.Cmd.ProcessState.Sys().(syscall.WaitStatus); !st.Signaled() || st.Signal() != syscall.SIGKILL {
		t.Fatalf("replica 1 was not killed by SIGKILL: %v", victim.Cmd.ProcessState)
	}
	killedAt := time.Now()
	time.Sleep(1500 * time.Millisecond)
	cancel()
	l.wg.Wait()
	if n := l.ackedBetween(killedAt, time.Now()); n == 0 {
		t.Errorf("no request acknowledged after the kill: the surviving replica stopped answering (%s)", l)
	}
	soSettle(t, sc, l, 100*time.Second)

	// The survivor still serves its API and sees every row.
	n, _, err := sc.ch.counts()
	must(t, err)
	if got := sc.replicas[0].count(t, "count_rows", sc.apiAZ); got != n {
		t.Errorf("GET /api/count_rows on the survivor = %d, ClickHouse holds %d", got, n)
	}
}

// TestScaleOutClickHouseOutage: ClickHouse is down for 10 s during the
// load. Ingest keeps answering 200 (Kafka acknowledges), /ready reports
// the engine gone, and once ClickHouse is back every record arrives once.
func TestScaleOutClickHouseOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: slow scale-out test")
	}
	sc := soStart(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := soStartLoad(ctx, sc.baseURLs(), sc.ingestAZ, 8, 20, 25*time.Millisecond)
	l.waitAcked(t, 1000, 30*time.Second)
	// Let the consumers store some rows first.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, _, err := sc.ch.counts(); err == nil && n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no row reached ClickHouse within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Stopped: SIGTERM, and SIGKILL 10 s later if it is still running
	// (ClickHouse 18.16 usually needs that long with clients connected).
	down := time.Now()
	sc.ch.stop(t)
	t.Logf("ClickHouse took %v to stop", time.Since(down).Round(time.Millisecond))
	for i, s := range sc.replicas {
		// /ready reports the engine (503 now) although ingest works: see
		// docs/SCALEOUT.md. Only logged here.
		if r, err := s.try(http.MethodGet, "/ready", nil); err == nil {
			t.Logf("replica %d: GET /ready with ClickHouse down: %s", i, r)
		}
		if r, err := s.try(http.MethodGet, "/health", nil); err != nil || r.Status != http.StatusOK {
			t.Errorf("replica %d: GET /health with ClickHouse down = %v %v, want 200", i, r, err)
		}
	}
	time.Sleep(time.Until(down.Add(10 * time.Second)))
	up := time.Now()
	sc.ch.restart(t)
	t.Logf("ClickHouse was down %v", time.Since(down).Round(time.Millisecond))
	time.Sleep(time.Second)
	cancel()
	l.wg.Wait()

	duringOutage := l.ackedBetween(down, up)
	if duringOutage == 0 {
		t.Errorf("no ingest request acknowledged while ClickHouse was down (%s)", l)
	}
	t.Logf("%d requests acknowledged while ClickHouse was down", duringOutage)
	l.mu.Lock()
	failed := l.requests - l.answers["200"]
	l.mu.Unlock()
	if failed > 0 {
		t.Errorf("%d ingest requests were not answered 200: ingest must not need ClickHouse (%s)", failed, l)
	}
	soSettle(t, sc, l, 60*time.Second)
	for i, s := range sc.replicas {
		if r, err := s.try(http.MethodGet, "/ready", nil); err != nil || r.Status != http.StatusOK {
			t.Errorf("replica %d: GET /ready after ClickHouse returned = %v %v, want 200", i, r, err)
		}
	}
}

// TestScaleOutBrokerDown: one broker of three (the group's coordinator) is
// stopped during the load and comes back 8 s later. Topics have three
// replicas; ingest goes on without the broker, and no acknowledged row is
// lost or stored twice.
func TestScaleOutBrokerDown(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: slow scale-out test")
	}
	sc := soStart(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The topic was created with three replicas.
	adm := sc.kafka.admin(t)
	tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
	td, err := adm.ListTopics(tctx, soTopic)
	tcancel()
	must(t, err)
	for _, p := range td[soTopic].Partitions {
		if len(p.Replicas) != 3 {
			t.Errorf("partition %d has replicas %v, want 3 (replication_factor = 3)", p.Partition, p.Replicas)
		}
	}
	if n := len(td[soTopic].Partitions); n != 4 {
		t.Errorf("topic %s has %d partitions, want 4", soTopic, n)
	}

	l := soStartLoad(ctx, sc.baseURLs(), sc.ingestAZ, 8, 20, 10*time.Millisecond)
	l.waitAcked(t, 1000, 30*time.Second)
	time.Sleep(time.Second)
	node := sc.kafka.c.CoordinatorFor(soGroup)
	port := sc.kafka.stopBroker(t, node)
	stopped := time.Now()
	t.Logf("stopped broker %d (port %d), the group's coordinator", node, port)
	time.Sleep(8 * time.Second)
	if _, _, err := sc.kafka.c.AddNode(node, port); err != nil {
		t.Fatalf("restarting broker %d on port %d: %v", node, port, err)
	}
	restarted := time.Now()
	time.Sleep(2 * time.Second)
	cancel()
	l.wg.Wait()
	t.Logf("acknowledged requests: %d while the broker was down, %d after it came back",
		l.ackedBetween(stopped, restarted), l.ackedBetween(restarted, time.Now()))
	// franz-go needs a few seconds to move to the new leaders (requests
	// wait meanwhile, none fails); ingest must then go on without the broker.
	if n := l.ackedBetween(restarted.Add(-3*time.Second), restarted); n == 0 {
		t.Errorf("ingest did not recover while the broker was down (%s)", l)
	}
	soSettle(t, sc, l, 60*time.Second)
}

// TestScaleOutEveryReplicaServes: each replica takes ingest, serves the
// consumption APIs (which see the rows ingested through the other one),
// health and admin; the group spreads the partitions over both.
func TestScaleOutEveryReplicaServes(t *testing.T) {
	t.Parallel()
	sc := soStart(t, 2)
	const perReplica = 10
	for i, s := range sc.replicas {
		for j := range perReplica {
			body := fmt.Sprintf(`[{"id":"r%d-%d-a"},{"id":"r%d-%d-b"}]`, i, j, i, j)
			if r := s.ingest(t, "Events", body, sc.ingestAZ); r.Status != http.StatusOK {
				t.Fatalf("replica %d: POST /ingest/Events: %s", i, r)
			}
		}
	}
	want := int64(2 * perReplica * len(sc.replicas))
	for i, s := range sc.replicas {
		deadline := time.Now().Add(30 * time.Second)
		for {
			n := s.count(t, "count_rows", sc.apiAZ)
			if n == want {
				break
			}
			if n > want || time.Now().After(deadline) {
				t.Fatalf("replica %d: GET /api/count_rows = %d, want %d", i, n, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// A row ingested through the other replica.
		other := (i + 1) % len(sc.replicas)
		rows := s.query(t, "has_id", url.Values{"id": {fmt.Sprintf("r%d-3-b", other)}}, sc.apiAZ)
		if len(rows) != 1 || asInt(t, rows[0]["n"]) != 1 {
			t.Errorf("replica %d: GET /api/has_id for a row ingested through replica %d = %v, want n = 1", i, other, rows)
		}
		if r := s.do(t, http.MethodGet, "/api/count_rows", nil); r.Status != http.StatusUnauthorized {
			t.Errorf("replica %d: GET /api/count_rows without a key = %s, want 401", i, r)
		}
		for _, path := range []string{"/health", "/ready"} {
			if r := s.do(t, http.MethodGet, path, nil); r.Status != http.StatusOK {
				t.Errorf("replica %d: GET %s = %s", i, path, r)
			}
		}
		if r := s.do(t, http.MethodGet, "/admin/inframap", nil, sc.adminAZ); r.Status != http.StatusOK {
			t.Errorf("replica %d: GET /admin/inframap = %s", i, r)
		}
	}

	// Both members of the group hold partitions of the topic.
	adm := sc.kafka.admin(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		groups, err := adm.DescribeGroups(ctx, soGroup)
		cancel()
		var spread []int
		var state string
		if err == nil {
			g := groups[soGroup]
			state = g.State
			for _, m := range g.Members {
				n := 0
				if c, ok := m.Assigned.AsConsumer(); ok {
					for _, tp := range c.Topics {
						if tp.Topic == soTopic {
							n += len(tp.Partitions)
						}
					}
				}
				spread = append(spread, n)
			}
		}
		if err == nil && state == "Stable" && len(spread) == 2 && spread[0] > 0 && spread[1] > 0 && spread[0]+spread[1] == 4 {
			t.Logf("group %s: partitions per member %v", soGroup, spread)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: state %q, partitions per member %v (err %v); want 2 members sharing 4 partitions",
				soGroup, state, spread, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestScaleOutKafkaDownAtStart: with streaming on and no broker reachable,
// `moose prod` refuses to start with an error naming Kafka (it cannot
// create the topics), and does not crash.
func TestScaleOutKafkaDownAtStart(t *testing.T) {
	t.Parallel()
	ch := soStartClickHouse(t)
	vecs := loadVectors(t)
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens there
	s := soLaunch(t, serverOpts{
		Mode:     "prod",
		Config:   ch.config() + "\n" + (&soKafka{}).config(closed),
		Models:   map[string]string{"events.toml": soModel},
		LogLevel: "info",
		Env:      []string{"MOOSE_INGEST_API_KEY=" + vecs[0].Hash, "MOOSE_CONSUMPTION_API_KEY=" + vecs[1].Hash},
	})
	if !s.waitExit(60 * time.Second) {
		t.Fatalf("moose prod still running 60 s after start with no Kafka broker reachable:\n%s", s.Out.String())
	}
	out := s.Out.String()
	if code := s.Cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("exit code 0, want a failure")
	}
	if strings.Contains(out, "panic:") || strings.Contains(out, "nil pointer") {
		t.Errorf("moose prod crashed instead of reporting the error:\n%s", tail(out, 4<<10))
	}
	if !strings.Contains(strings.ToLower(out), "kafka") {
		t.Errorf("the start-up error does not name Kafka:\n%s", tail(out, 4<<10))
	}
}
