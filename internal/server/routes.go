package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/moose-go/moose/internal/admin"
	"github.com/moose-go/moose/internal/api"
	"github.com/moose-go/moose/internal/auth"
	"github.com/moose-go/moose/internal/httpx"
	"github.com/moose-go/moose/internal/ingest"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/openapi"
	"github.com/moose-go/moose/internal/project"
)

// routes is the main port's handler: the whole security boundary is here.
// Order: request ID, panic recovery, metrics, CORS, then the mux; auth is
// attached per route group (health open, admin API-key only, ingest and
// consumption per their scope).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	mux.HandleFunc("GET /health", ok)
	mux.HandleFunc("GET /liveness", ok)
	mux.HandleFunc("GET /ready", s.ready)

	adminAuth := s.authFor(auth.Admin)
	mux.Handle("/admin/", adminAuth(s.adminRoutes()))

	// Everything else depends on the project files and is swapped whole.
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.live.Load().handler.ServeHTTP(w, r)
	}))

	var h http.Handler = mux
	if p := s.cfg.HTTPServer.PathPrefix; p != "" {
		h = http.StripPrefix(p, mux)
	}
	return chain(h, requestID, recoverer(s.log), s.m.instrument, cors)
}

func (s *Server) authFor(scope auth.Scope) func(http.Handler) http.Handler {
	return s.auth.Middleware(scope, s.log, func(sc auth.Scope, reason string) {
		s.m.authFail.inc(sc.String(), reasonLabel(reason))
	})
}

// reasonLabel keeps the metric's label set small: "invalid_jwt: token is
// expired" counts as invalid_jwt.
func reasonLabel(reason string) string {
	if i := strings.IndexAny(reason, ": "); i > 0 {
		return reason[:i]
	}
	return reason
}

// ready reports whether ingest can be acknowledged: with the Kafka buffer
// that depends on the brokers (the engine may be down meanwhile: rows wait in
// Kafka); otherwise on the engine.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.producer != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.producer.Ping(ctx); err != nil {
			s.log.Warn("readiness: kafka not answering", "err", err)
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "kafka unavailable"})
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	if p, ok := s.store.(olap.Pinger); ok {
		if err := p.Ping(r.Context()); err != nil {
			s.log.Warn("readiness: engine not answering", "err", err)
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "engine unavailable"})
			return
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// buildLive makes the project-dependent routes.
func (s *Server) buildLive(p *project.Project, m *admin.InfraMap) (*live, error) {
	mux := http.NewServeMux()
	ih, err := ingest.NewHandler(p, s.sink, ingest.Options{
		MaxBodyBytes: s.cfg.HTTPServer.MaxRequestBodySize,
		Logger:       s.log,
		OnRows: func(model string, stored, dl int) {
			s.m.rows.add(uint64(stored), model)
			if dl > 0 {
				s.m.deadLetter.add(uint64(dl), model)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	ih.Register(mux, s.authFor(auth.Ingest))
	ah, err := api.NewHandler(p, s.reader, api.Options{Logger: s.log,
		OnQuery: func(name string, d time.Duration, err error) {
			if err == nil {
				s.m.queryTime.observe(d.Seconds(), name)
			}
		}})
	if err != nil {
		return nil, err
	}
	ah.Register(mux, s.authFor(auth.Consumption))
	mux.Handle("/", httpx.Handle(s.log, notFound))
	return &live{project: p, imap: m, handler: mux}, nil
}

func notFound(w http.ResponseWriter, r *http.Request) error {
	return httpx.Errorf(http.StatusNotFound,
		"no route for %s %s: ingest is POST /ingest/<Model>, analytics are GET /api/<name>, "+
			"admin is under /admin/, health is GET /health (run `moose ls` to list them)", r.Method, r.URL.Path)
}

func (s *Server) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	admin.NewHandlers(s.admin, s.reader, api.EncodeRows, s.log).Register(mux)
	mux.Handle("/", httpx.Handle(s.log, notFound))
	return mux
}

func (s *Server) managementRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.m.handler())
	if s.opt.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /openapi.yaml", httpx.Handle(s.log, func(w http.ResponseWriter, r *http.Request) error {
		doc, err := openapi.Generate(s.live.Load().project, openapi.Options{PathPrefix: s.cfg.HTTPServer.PathPrefix})
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/yaml")
		_, err = w.Write(doc)
		return err
	}))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

func (s *Server) printRoutes(mainAddr, mgmtAddr string) {
	if s.opt.Out == nil {
		return
	}
	l := s.live.Load()
	pre := s.cfg.HTTPServer.PathPrefix
	w := s.opt.Out
	fmt.Fprintf(w, "moose %s serving on http://%s%s (management http://%s)\n", s.opt.Mode, mainAddr, pre, mgmtAddr)
	fmt.Fprintf(w, "  auth: ingest=%s consumption=%s admin=%s\n",
		s.auth.Mode(auth.Ingest), s.auth.Mode(auth.Consumption), s.auth.Mode(auth.Admin))
	for _, m := range l.project.Models {
		if !m.Ingest {
			continue
		}
		fmt.Fprintf(w, "  POST %s/ingest/%s", pre, m.Name)
		if m.Version != "" {
			fmt.Fprintf(w, "  (also /ingest/%s/%s)", m.Name, m.Version)
		}
		fmt.Fprintf(w, "  -> table %s\n", m.Name)
	}
	for _, a := range l.project.APIs {
		path := a.Name
		if a.Version != "" {
			path += "/" + a.Version
		}
		fmt.Fprintf(w, "  GET  %s/api/%s  (and /consumption/%s)\n", pre, path, path)
	}
	fmt.Fprintf(w, "  GET  %s/admin/inframap, POST %s/admin/plan, POST %s/admin/integrate-changes, GET %s/admin/reality-check\n", pre, pre, pre, pre)
	fmt.Fprintf(w, "  GET  %s/health, /ready, /liveness; GET http://%s/metrics\n", pre, mgmtAddr)
}
