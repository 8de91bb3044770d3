package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moose-go/moose/internal/admin"
	"github.com/moose-go/moose/internal/auth"
	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/ingest"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
	"github.com/moose-go/moose/internal/olap/clickhouse"
	"github.com/moose-go/moose/internal/olap/embedded"
	"github.com/moose-go/moose/internal/project"
	"github.com/moose-go/moose/internal/stream/kafka"
)

// Options start a server.
type Options struct {
	Dir    string      // project directory
	Mode   config.Mode // dev or prod
	Logger *slog.Logger
	Out    io.Writer // where the route list is printed; nil: nowhere
	// Environ is the process environment (os.Environ()).
	Environ []string
	// AllowDestructive lets start-up apply changes that can lose data.
	AllowDestructive bool
	// Pprof serves /debug/pprof/ on the management port (MOOSE_PPROF=1).
	Pprof bool
	// Ready, if set, receives the bound main and management addresses.
	Ready func(main, management string)
}

// Server is a running moose.
type Server struct {
	opt     Options
	cfg     *config.Config
	log     *slog.Logger
	auth    *auth.Authenticator
	store   olap.Store
	sink    ingest.Sink
	batch   *ingest.Batcher // ClickHouse-server engine without Kafka
	journal *ingest.Journal // embedded engine
	// Kafka buffer ([features] streaming_engine): ingest produces, the
	// consumer group moves records into the tables.
	producer  *kafka.Producer
	consumer  *kafka.Sink
	consumeWG sync.WaitGroup
	stopSink  context.CancelFunc
	reader    olap.Reader // the store, behind the journal's read barrier
	m         *metrics
	admin     *admin.Service

	live atomic.Pointer[live] // project-dependent routes, swapped whole
}

// live is everything that depends on the project files.
type live struct {
	project *project.Project
	imap    *admin.InfraMap
	handler http.Handler
}

// Run loads, starts and serves until ctx ends, then shuts down in order.
func Run(ctx context.Context, opt Options) error {
	s, err := New(ctx, opt)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// New loads config and project, checks the security setup, opens the engine
// and applies the schema. It does not listen yet.
func New(ctx context.Context, opt Options) (s *Server, err error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	log := opt.Logger
	cfg, warns, err := config.Load(opt.Dir, opt.Mode, opt.Environ)
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		log.Warn("config: " + w.String())
	}
	p, pwarns, err := project.Load(filepath.Join(opt.Dir, cfg.SourceDir))
	if err != nil {
		return nil, err
	}
	for _, w := range pwarns {
		log.Warn("project: " + w.String())
	}
	a, err := auth.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("authentication setup: %w", err)
	}
	if err := checkSecurity(cfg, a, p, opt.Mode, log); err != nil {
		return nil, err
	}

	s = &Server{opt: opt, cfg: cfg, log: log, auth: a, m: newMetrics()}
	s.store, err = openStore(ctx, cfg, opt.Dir, log)
	if err != nil {
		return nil, err
	}
	srv := s // s is nil after "return nil, err"
	defer func() {
		if err != nil {
			srv.closeBackend()
		}
	}()
	m, p, err := s.startupMap(ctx, p, opt.Mode)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, p, opt.AllowDestructive); err != nil {
		return nil, err
	}
	if err := s.openSink(ctx); err != nil {
		return nil, err
	}
	l, err := s.buildLive(p, m)
	if err != nil {
		return nil, err
	}
	s.live.Store(l)
	if err := s.startConsumer(ctx, p); err != nil {
		return nil, err
	}
	s.admin = admin.NewService(s.store, s.view, func() *admin.InfraMap { return s.live.Load().imap }, s.commit)
	return s, nil
}

// startupMap chooses the map to run. The project files win in dev, and in
// prod when they changed since the stored map was made; otherwise (prod,
// files unchanged) the stored map wins, so a map applied remotely survives a
// restart. The chosen map is stored if it is new.
func (s *Server) startupMap(ctx context.Context, files *project.Project, mode config.Mode) (*admin.InfraMap, *project.Project, error) {
	if err := s.ensureMapTable(ctx); err != nil {
		return nil, nil, fmt.Errorf("creating the infrastructure map table: %w", err)
	}
	fm := admin.MapFromProject(files)
	digest := fm.Digest()
	raw, storedDigest, err := s.loadMap(ctx)
	if err != nil {
		return nil, nil, err
	}
	m, p := fm, files
	if raw != nil && mode == config.ModeProd && storedDigest == digest {
		sm, sp, err := admin.DecodeMap(raw)
		if err != nil {
			s.log.Warn("the stored infrastructure map is unreadable; using the project files", "err", err)
		} else {
			m, p = sm, sp
			s.log.Info("running the stored infrastructure map (project files unchanged since it was applied)")
		}
	}
	if raw == nil || m.Digest() != storedMapDigest(raw) {
		if err := s.saveMap(ctx, m, digest); err != nil {
			return nil, nil, fmt.Errorf("storing the infrastructure map: %w", err)
		}
	}
	return m, p, nil
}

func storedMapDigest(raw []byte) string {
	m, _, err := admin.DecodeMap(raw)
	if err != nil {
		return ""
	}
	return m.Digest()
}

// commit makes a new map live (admin apply and dev reload): build the
// routes, store the map, swap. In-flight requests finish on the old routes.
func (s *Server) commit(ctx context.Context, m *admin.InfraMap, p *project.Project) error {
	l, err := s.buildLive(p, m)
	if err != nil {
		return err
	}
	if err := s.saveMap(ctx, m, s.filesDigest()); err != nil {
		return err
	}
	s.live.Store(l)
	return s.startConsumer(ctx, p) // new tables need topics and a consumer
}

// filesDigest is the digest of the project files now (or "" if they do not
// load), recorded with each applied map.
func (s *Server) filesDigest() string {
	p, _, err := project.Load(filepath.Join(s.opt.Dir, s.cfg.SourceDir))
	if err != nil {
		return ""
	}
	return admin.MapFromProject(p).Digest()
}

// view maps a project table to what the engine holds: old servers store
// Bool as UInt8 and LowCardinality(String) as String.
func (s *Server) view(t olap.Table) olap.Table {
	if s.cfg.Features.StreamingEngine {
		// The consumer writes each row's Kafka position: see stream/kafka.
		t.Columns = append(append([]olap.Column(nil), t.Columns...), kafka.OffsetColumns()...)
	}
	d, ok := s.store.(interface{ Dialect() chsql.Dialect })
	if !ok || !d.Dialect().Legacy {
		return t
	}
	out := t
	out.Columns = make([]olap.Column, len(t.Columns))
	for i, c := range t.Columns {
		if ty, err := d.Dialect().Type(c.Type); err == nil {
			c.Type = ty
		}
		out.Columns[i] = c
	}
	return out
}

// openSink picks where ingest writes: the embedded engine gets the
// write-ahead journal (acknowledged once logged, inserted in large batches);
// a ClickHouse server gets group-committed inserts.
func (s *Server) openSink(ctx context.Context) error {
	s.reader = s.store
	if s.cfg.Features.StreamingEngine {
		return s.openStreaming(ctx)
	}
	if dw, ok := s.store.(olap.DedupWriter); ok && s.cfg.Engine.Kind == config.EngineEmbedded {
		dir := s.cfg.Engine.WALDir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(s.opt.Dir, dir)
		}
		j, err := ingest.OpenJournal(ctx, dir, dw, s.log.WithGroup("journal"),
			ingest.JournalOptions{Sync: s.cfg.Engine.WALFsync, Observe: s.m.observeInsert, ObserveAppend: s.m.observeAppend})
		if err != nil {
			return err
		}
		s.journal, s.sink = j, j
		s.reader = barrierReader{Reader: s.store, barrier: j.Barrier}
		return nil
	}
	s.batch = ingest.NewBatcher(s.store, s.log, ingest.BatcherOptions{Observe: s.m.observeInsert})
	s.sink = s.batch
	return nil
}

// openStreaming starts the Kafka producer (ingest answers 200 once the
// brokers acknowledged) and the consumer group that inserts into the tables.
func (s *Server) openStreaming(ctx context.Context) error {
	p, err := kafka.NewProducer(s.cfg.Kafka, s.log.WithGroup("kafka"))
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	s.producer = p
	ns := s.cfg.Kafka.Namespace
	s.sink = ingest.NewStreamSink(p, func(t string) string { return kafka.TopicFor(ns, t) })
	return nil
}

// startConsumer (re)starts the consumer group over the project's tables,
// creating their topics first. Every replica runs one; Kafka spreads the
// partitions over them.
func (s *Server) startConsumer(ctx context.Context, p *project.Project) error {
	if s.producer == nil {
		return nil
	}
	var tables []string
	for _, t := range p.Tables() {
		tables = append(tables, t.Name)
	}
	if err := s.producer.EnsureTopics(ctx, kafka.TopicsFor(s.cfg.Kafka.Namespace, tables)); err != nil {
		return fmt.Errorf("kafka: creating topics: %w", err)
	}
	s.stopConsumer()
	// One group per namespace: deployments sharing a Kafka cluster do not
	// share (and wait on) each other's group members.
	group := kafka.TopicFor(s.cfg.Kafka.Namespace, "moose")
	c, err := kafka.NewSink(s.cfg.Kafka, group, s.store, s.store, tables, s.log.WithGroup("kafka"))
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.consumer, s.stopSink = c, cancel
	s.consumeWG.Add(1)
	go func() {
		defer s.consumeWG.Done()
		if err := c.Run(runCtx); err != nil {
			s.log.Error("kafka consumer stopped", "err", err)
		}
	}()
	return nil
}

func (s *Server) stopConsumer() {
	if s.stopSink == nil {
		return
	}
	s.stopSink()
	s.consumeWG.Wait()
	s.consumer.Close()
	s.stopSink, s.consumer = nil, nil
}

// barrierReader makes every query see every acknowledged row: it waits for
// the journal to have inserted all it had appended when the query came.
type barrierReader struct {
	olap.Reader
	barrier func(context.Context) error
}

func (b barrierReader) Query(ctx context.Context, sql string, params []olap.Param) (*olap.Result, error) {
	if err := b.barrier(ctx); err != nil {
		return nil, err
	}
	return b.Reader.Query(ctx, sql, params)
}

// checkSecurity applies the start-up rules of SPEC section 3.
func checkSecurity(cfg *config.Config, a *auth.Authenticator, p *project.Project, mode config.Mode, log *slog.Logger) error {
	var open []string
	for _, sc := range []auth.Scope{auth.Ingest, auth.Consumption} {
		if a.Open(sc) {
			open = append(open, sc.String())
		}
	}
	if len(open) > 0 {
		if mode == config.ModeProd && !cfg.Authentication.AllowUnauthenticated {
			return fmt.Errorf("refusing to start moose prod: the %s endpoints would accept requests without any token; "+
				"configure [jwt] (secret, issuer, audience) or MOOSE_INGEST_API_KEY / MOOSE_CONSUMPTION_API_KEY, "+
				"or set [authentication] allow_unauthenticated = true", strings.Join(open, " and "))
		}
		log.Warn("unauthenticated endpoints: anyone can call them", "scopes", strings.Join(open, ","))
	}
	if a.Open(auth.Admin) {
		return errors.New("internal: admin scope must never be open")
	}
	if !cfg.JWT.Configured() {
		for _, m := range p.Models {
			for _, c := range m.Columns {
				if c.JWTClaim != "" {
					log.Warn("model takes a column from a JWT claim but no JWT is configured: its ingest route refuses every request",
						"model", m.Name, "column", c.Name)
				}
			}
		}
		for _, api := range p.APIs {
			for _, prm := range api.Params {
				if prm.JWTClaim != "" {
					log.Warn("API binds a parameter from a JWT claim but no JWT is configured: it refuses every request",
						"api", api.Name, "param", prm.Name)
				}
			}
		}
	}
	return nil
}

func openStore(ctx context.Context, cfg *config.Config, dir string, log *slog.Logger) (olap.Store, error) {
	switch cfg.Engine.Kind {
	case "embedded", "":
		dataDir := cfg.Engine.DataDir
		if !filepath.IsAbs(dataDir) {
			dataDir = filepath.Join(dir, dataDir)
		}
		return embedded.Open(ctx, embedded.Options{DataDir: dataDir, Logger: log.WithGroup("chdb")})
	case "clickhouse":
		o := clickhouse.OptionsFromConfig(cfg.ClickHouse)
		o.Logger = log.WithGroup("clickhouse")
		return clickhouse.Open(ctx, o)
	}
	return nil, fmt.Errorf("engine.kind %q: want embedded or clickhouse", cfg.Engine.Kind)
}

// migrate brings the engine's tables up to the project's. Tables the
// project does not name are left alone.
func (s *Server) migrate(ctx context.Context, p *project.Project, allowDestructive bool) error {
	cur, err := s.store.Tables(ctx)
	if err != nil {
		return fmt.Errorf("reading the engine's tables: %w", err)
	}
	var want []olap.Table
	for _, t := range p.Tables() {
		want = append(want, s.view(t))
	}
	changes := admin.Diff(cur, want, false)
	if d := admin.Destructive(changes); len(d) > 0 && !allowDestructive {
		var b strings.Builder
		for _, c := range d {
			ddl, _ := s.store.DDL(c)
			fmt.Fprintf(&b, "\n  %s %s: %s", c.Kind, c.Table.Name, ddl)
		}
		return fmt.Errorf("the project files need changes that can lose data; refusing to apply them at start-up "+
			"(use moose plan / apply, or start with --allow-destructive):%s", b.String())
	}
	for _, c := range changes {
		ddl, _ := s.store.DDL(c)
		s.log.Info("schema change", "kind", c.Kind, "table", c.Table.Name, "ddl", ddl)
	}
	if err := s.store.Apply(ctx, changes); err != nil {
		return fmt.Errorf("applying schema changes: %w", err)
	}
	return nil
}

// Serve listens on the main and management ports until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	hs := s.cfg.HTTPServer
	ln, err := net.Listen("tcp", net.JoinHostPort(hs.Host, fmt.Sprint(hs.Port)))
	if err != nil {
		s.closeBackend()
		return fmt.Errorf("listening on the main port: %w", err)
	}
	mln, err := net.Listen("tcp", net.JoinHostPort(hs.Host, fmt.Sprint(hs.ManagementPort)))
	if err != nil {
		ln.Close()
		s.closeBackend()
		return fmt.Errorf("listening on the management port: %w", err)
	}
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	newSrv := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      120 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			BaseContext:       func(net.Listener) context.Context { return baseCtx },
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	}
	main := newSrv(s.routes())
	mgmt := newSrv(s.managementRoutes())
	errc := make(chan error, 2)
	go func() { errc <- main.Serve(ln) }()
	go func() { errc <- mgmt.Serve(mln) }()
	s.printRoutes(ln.Addr().String(), mln.Addr().String())
	if s.opt.Mode == config.ModeDev {
		go s.watch(baseCtx)
	}
	if s.opt.Ready != nil {
		s.opt.Ready(ln.Addr().String(), mln.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := main.Shutdown(sctx); err != nil {
		s.log.Warn("main server shutdown", "err", err)
	}
	mgmt.Shutdown(sctx)
	cancelBase()
	s.closeBackend()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// closeBackend drains the batches, then closes the engine.
func (s *Server) closeBackend() {
	if s.store == nil {
		return
	}
	if s.producer != nil {
		s.producer.Close() // flushes what is still buffered
	}
	s.stopConsumer() // before the store closes
	if s.batch != nil {
		s.batch.Close()
	}
	if s.journal != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := s.journal.Close(ctx); err != nil {
			s.log.Warn("closing the journal", "err", err)
		}
		cancel()
	}
	if err := s.store.Close(); err != nil {
		s.log.Warn("closing the engine", "err", err)
	}
	s.log.Info("stopped")
}

// OpenEngine opens the project's engine directly, for CLI commands that
// run while no server does (the embedded engine admits one process per
// data directory: a running server makes this fail with olap.ErrUnavailable).
func OpenEngine(ctx context.Context, dir string, environ []string, log *slog.Logger) (olap.Store, *config.Config, error) {
	cfg, _, err := config.Load(dir, config.ModeDev, environ)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg, dir, log)
	if err != nil {
		return nil, nil, err
	}
	return st, cfg, nil
}
