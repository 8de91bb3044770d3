package server

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics is a small Prometheus text-format registry: counters and
// histograms keyed by label values, lock-free on the hot path once a label
// set exists.
type metrics struct {
	requests    *counterVec   // route, method, status
	latency     *histogramVec // route
	authFail    *counterVec   // scope, reason
	rows        *counterVec   // model
	deadLetter  *counterVec   // model
	batchRows   *histogramVec // table
	insertTime  *histogramVec // table
	insertFails *counterVec   // table
	queryTime   *histogramVec // api
	walAppend   *histogramVec // (none): write+fsync of one group
	walGroup    *histogramVec // (none): requests acknowledged per group
}

var (
	latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	rowBuckets     = []float64{1, 10, 100, 1000, 10000, 100000, 1e6}
)

func newMetrics() *metrics {
	return &metrics{
		requests:    newCounterVec("moose_http_requests_total", "HTTP requests by route, method and status.", "route", "method", "status"),
		latency:     newHistogramVec("moose_http_request_duration_seconds", "HTTP request latency by route.", latencyBuckets, "route"),
		authFail:    newCounterVec("moose_auth_failures_total", "Refused requests by scope and reason.", "scope", "reason"),
		rows:        newCounterVec("moose_ingested_rows_total", "Rows stored by ingest, by model.", "model"),
		deadLetter:  newCounterVec("moose_dead_lettered_rows_total", "Rows sent to a dead-letter table, by model.", "model"),
		batchRows:   newHistogramVec("moose_insert_batch_rows", "Rows per engine insert (group commit), by table.", rowBuckets, "table"),
		insertTime:  newHistogramVec("moose_insert_duration_seconds", "Engine insert time, by table.", latencyBuckets, "table"),
		insertFails: newCounterVec("moose_insert_failures_total", "Failed engine inserts, by table.", "table"),
		queryTime:   newHistogramVec("moose_engine_query_duration_seconds", "Engine query time for analytics APIs, by API.", latencyBuckets, "api"),
		walAppend:   newHistogramVec("moose_wal_append_seconds", "Write-ahead log: time to write (and fsync) one group of requests.", latencyBuckets),
		walGroup:    newHistogramVec("moose_wal_group_requests", "Write-ahead log: requests acknowledged by one write (group commit).", rowBuckets),
	}
}

func (m *metrics) observeInsert(table string, rows int, d time.Duration, err error) {
	if err != nil {
		m.insertFails.inc(table)
		return
	}
	m.batchRows.observe(float64(rows), table)
	m.insertTime.observe(d.Seconds(), table)
}

func (m *metrics) observeAppend(requests int, d time.Duration) {
	m.walAppend.observe(d.Seconds())
	m.walGroup.observe(float64(requests))
}

func (m *metrics) write(w io.Writer) {
	for _, c := range []*counterVec{m.requests, m.authFail, m.rows, m.deadLetter, m.insertFails} {
		c.write(w)
	}
	for _, h := range []*histogramVec{m.latency, m.batchRows, m.insertTime, m.queryTime, m.walAppend, m.walGroup} {
		h.write(w)
	}
}

// handler serves the registry at /metrics.
func (m *metrics) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.write(w)
	})
}

// instrument records each request's route pattern, status and latency.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern // set by the ServeMux that matched, on this request
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		if route == "" || route == "/" {
			route = "unmatched"
		}
		m.requests.inc(route, r.Method, strconv.Itoa(sw.status))
		m.latency.observe(time.Since(start).Seconds(), route)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type counterVec struct {
	name, help string
	labels     []string
	m          sync.Map // label key -> *atomic.Uint64
}

func newCounterVec(name, help string, labels ...string) *counterVec {
	return &counterVec{name: name, help: help, labels: labels}
}

func labelKey(values []string) string { return strings.Join(values, "\xff") }

func (c *counterVec) inc(values ...string) { c.add(1, values...) }

func (c *counterVec) add(n uint64, values ...string) {
	k := labelKey(values)
	v, ok := c.m.Load(k)
	if !ok {
		v, _ = c.m.LoadOrStore(k, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(n)
}

func (c *counterVec) get(values ...string) uint64 {
	if v, ok := c.m.Load(labelKey(values)); ok {
		return v.(*atomic.Uint64).Load()
	}
	return 0
}

func (c *counterVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
	for _, k := range sortedKeys(&c.m) {
		v, _ := c.m.Load(k)
		fmt.Fprintf(w, "%s%s %d\n", c.name, labelText(c.labels, k, ""), v.(*atomic.Uint64).Load())
	}
}

type histogramVec struct {
	name, help string
	labels     []string
	buckets    []float64
	m          sync.Map // label key -> *histogram
}

type histogram struct {
	counts []atomic.Uint64 // per bucket, then +Inf
	sum    atomic.Uint64   // float64 bits
	count  atomic.Uint64
}

func newHistogramVec(name, help string, buckets []float64, labels ...string) *histogramVec {
	return &histogramVec{name: name, help: help, labels: labels, buckets: buckets}
}

func (h *histogramVec) observe(v float64, values ...string) {
	k := labelKey(values)
	x, ok := h.m.Load(k)
	if !ok {
		x, _ = h.m.LoadOrStore(k, &histogram{counts: make([]atomic.Uint64, len(h.buckets)+1)})
	}
	hi := x.(*histogram)
	i, _ := slices.BinarySearch(h.buckets, v)
	hi.counts[i].Add(1)
	hi.count.Add(1)
	for {
		old := hi.sum.Load()
		if hi.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
}

func (h *histogramVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	for _, k := range sortedKeys(&h.m) {
		x, _ := h.m.Load(k)
		hi := x.(*histogram)
		var cum uint64
		for i, b := range h.buckets {
			cum += hi.counts[i].Load()
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelText(h.labels, k, strconv.FormatFloat(b, 'g', -1, 64)), cum)
		}
		cum += hi.counts[len(h.buckets)].Load()
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelText(h.labels, k, "+Inf"), cum)
		fmt.Fprintf(w, "%s_sum%s %g\n", h.name, labelText(h.labels, k, ""), math.Float64frombits(hi.sum.Load()))
		fmt.Fprintf(w, "%s_count%s %d\n", h.name, labelText(h.labels, k, ""), hi.count.Load())
	}
}

func sortedKeys(m *sync.Map) []string {
	var ks []string
	m.Range(func(k, _ any) bool { ks = append(ks, k.(string)); return true })
	slices.Sort(ks)
	return ks
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func labelText(names []string, key, le string) string {
	values := strings.Split(key, "\xff")
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		v := ""
		if i < len(values) {
			v = values[i]
		}
		fmt.Fprintf(&b, `%s="%s"`, n, labelEscaper.Replace(v))
	}
	if le != "" {
		if len(names) > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `le="%s"`, le)
	}
	b.WriteByte('}')
	if b.Len() == 2 {
		return ""
	}
	return b.String()
}
