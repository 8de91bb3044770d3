package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moose-go/moose/internal/admin"
	"github.com/moose-go/moose/internal/api"
	"github.com/moose-go/moose/internal/auth"
	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/olap"
	"github.com/moose-go/moose/internal/olap/chsql"
	"github.com/moose-go/moose/internal/openapi"
	"github.com/moose-go/moose/internal/project"
	"github.com/moose-go/moose/internal/server"
)

// loadProject reads the configuration and the project files of the
// working directory, as moose dev would.
func loadProject(e *env) (*config.Config, *project.Project, error) {
	if _, err := os.Stat(filepath.Join(e.dir, config.FileName)); err != nil {
		return nil, nil, fmt.Errorf("no %s in %s: run this in a moose project directory (moose init NAME makes one)", config.FileName, e.dir)
	}
	cfg, _, err := config.Load(e.dir, config.ModeDev, e.environ)
	if err != nil {
		return nil, nil, err
	}
	p, _, err := project.Load(filepath.Join(e.dir, cfg.SourceDir))
	if err != nil {
		return nil, nil, err
	}
	return cfg, p, nil
}

// lsRoute is one route in `moose ls --json`.
type lsRoute struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Scope  string `json:"scope"`
	Model  string `json:"model,omitempty"`
	Table  string `json:"table,omitempty"`
	API    string `json:"api,omitempty"`
	// Version is the API's version ("" when not versioned).
	Version string           `json:"version,omitempty"`
	Params  []admin.APIParam `json:"params,omitempty"`
}

type lsOutput struct {
	Routes []lsRoute         `json:"routes"`
	Tables []olap.Table      `json:"tables"`
	Auth   map[string]string `json:"auth"`
}

func runLs(_ context.Context, e *env, args []string) error {
	fs := newFlags("ls", e)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	cfg, p, err := loadProject(e)
	if err != nil {
		return err
	}
	a, err := auth.New(cfg)
	if err != nil {
		return fmt.Errorf("authentication setup: %w", err)
	}
	pre := cfg.HTTPServer.PathPrefix
	m := admin.MapFromProject(p)
	out := lsOutput{Routes: []lsRoute{}, Tables: m.Tables, Auth: map[string]string{}}
	for _, sc := range auth.Scopes {
		out.Auth[sc.String()] = a.Mode(sc)
	}
	for _, r := range m.IngestRoutes {
		out.Routes = append(out.Routes, lsRoute{Method: "POST", Path: pre + r.Path, Scope: auth.Ingest.String(), Model: r.Model, Table: r.Table})
	}
	for i, r := range m.APIRoutes {
		for _, path := range openapi.APIPaths(p, p.APIs[i]) {
			for _, root := range []string{"/api", "/consumption"} {
				out.Routes = append(out.Routes, lsRoute{Method: "GET", Path: pre + root + path,
					Scope: auth.Consumption.String(), API: r.Name, Version: p.APIs[i].Version, Params: r.Params})
			}
		}
	}
	if *asJSON {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	return printLs(e.stdout, out, m)
}

func printLs(w io.Writer, out lsOutput, m *admin.InfraMap) error {
	fmt.Fprintln(w, "Routes")
	var rows [][]string
	for _, r := range out.Routes {
		target := "model " + r.Model + " -> table " + r.Table
		if r.API != "" {
			target = "api " + r.API
			if r.Version != "" {
				target += " version " + r.Version
			}
		}
		rows = append(rows, []string{"  " + r.Method, cell(r.Path), r.Scope, cell(target)})
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else if err := writeTable(w, []string{"  METHOD", "PATH", "SCOPE", "TARGET"}, rows); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nAPI parameters")
	rows = rows[:0]
	for _, r := range m.APIRoutes {
		for _, prm := range r.Params {
			req := "no"
			if prm.Required {
				req = "yes"
			}
			rows = append(rows, []string{"  " + cell(strings.TrimPrefix(r.Path, "/api/")), cell(prm.Name), cell(prm.Type), req,
				opt(prm.Default), opt(prm.Min), opt(prm.Max), dash(prm.JWTClaim)})
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else if err := writeTable(w, []string{"  API", "PARAM", "TYPE", "REQUIRED", "DEFAULT", "MIN", "MAX", "JWT CLAIM"}, rows); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nTables")
	rows = rows[:0]
	for _, t := range out.Tables {
		order := "tuple()"
		if len(t.OrderBy) > 0 {
			order = strings.Join(t.OrderBy, ", ")
		}
		for i, c := range t.Columns {
			name := ""
			ob := ""
			if i == 0 {
				name, ob = t.Name, order
			}
			rows = append(rows, []string{"  " + cell(name), cell(c.Name), cell(c.FullType()), cell(ob)})
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "  (none)")
	} else if err := writeTable(w, []string{"  TABLE", "COLUMN", "TYPE", "ORDER BY"}, rows); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nAuth")
	rows = rows[:0]
	for _, sc := range auth.Scopes {
		rows = append(rows, []string{"  " + sc.String(), out.Auth[sc.String()]})
	}
	return writeTable(w, []string{"  SCOPE", "MODE"}, rows)
}

func opt(s *string) string {
	if s == nil {
		return "-"
	}
	return cell(*s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return cell(s)
}

// queryFlags are the flags peek and query share.
type queryFlags struct {
	json  *bool
	url   *string
	token *string
}

func addQueryFlags(fs *flag.FlagSet) queryFlags {
	return queryFlags{
		json:  fs.Bool("json", false, "print a JSON array of row objects"),
		url:   fs.String("url", "", "the moose server (default: from moose.config.toml, else http://localhost:4000)"),
		token: fs.String("token", "", "the plain admin token (default: $MOOSE_ADMIN_TOKEN)"),
	}
}

func runPeek(ctx context.Context, e *env, args []string) error {
	fs := newFlags("peek", e)
	n := fs.Int("n", 10, "how many rows")
	qf := addQueryFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one MODEL")
	}
	if *n < 1 || *n > 1_000_000 {
		return usagef("-n %d: want 1..1000000", *n)
	}
	_, p, err := loadProject(e)
	if err != nil {
		return err
	}
	m := p.Model(pos[0])
	if m == nil {
		names := make([]string, len(p.Models))
		for i, md := range p.Models {
			names[i] = md.Name
		}
		list := "none"
		if len(names) > 0 {
			list = strings.Join(names, ", ")
		}
		return fmt.Errorf("no data model %q in the project (models: %s)", pos[0], list)
	}
	sql := peekSQL(m, *n)
	rs, err := runSQL(ctx, e, qf, sql)
	if err != nil {
		if errors.Is(err, olap.ErrTableNotFound) {
			return fmt.Errorf("table %s does not exist yet: start the server once (moose dev) to create it", m.Name)
		}
		return err
	}
	return writeRows(e.stdout, rs, *qf.json)
}

func runQuery(ctx context.Context, e *env, args []string) error {
	fs := newFlags("query", e)
	qf := addQueryFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one SQL argument (quote it)")
	}
	sql := strings.TrimSpace(pos[0])
	if sql == "" {
		return usagef("the SQL is empty")
	}
	if !admin.ReadOnly(sql) {
		return errors.New("only read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS) can be run; schema changes go through the project files (moose plan / apply)")
	}
	rs, err := runSQL(ctx, e, qf, sql)
	if err != nil {
		return err
	}
	return writeRows(e.stdout, rs, *qf.json)
}

// runSQL runs a read-only statement through a running server's
// POST /admin/query when one answers at the URL, else on the engine
// directly. An explicit --url must answer.
func runSQL(ctx context.Context, e *env, qf queryFlags, sql string) (*rowSet, error) {
	base := *qf.url
	explicit := base != ""
	if !explicit {
		base = defaultURL(e)
	}
	if explicit || serverAnswers(ctx, base) {
		c, err := newAdminClient(e, base, *qf.token)
		if err != nil {
			var ue usageError
			if !errors.As(err, &ue) && !explicit {
				err = fmt.Errorf("a moose server answers at %s, so this goes through its admin API: %w", base, err)
			}
			return nil, err
		}
		var resp struct {
			Columns []olap.ColumnMeta `json:"columns"`
			Rows    json.RawMessage   `json:"rows"`
		}
		if _, err := c.call(ctx, http.MethodPost, "/admin/query", map[string]string{"sql": sql}, &resp); err != nil {
			return nil, err
		}
		rs, err := decodeRows(resp.Columns, resp.Rows)
		if err != nil {
			return nil, fmt.Errorf("unexpected answer from %s/admin/query: %v", c.base, err)
		}
		return rs, nil
	}
	st, _, err := server.OpenEngine(ctx, e.dir, e.environ, quietLogger(e))
	if err != nil {
		if errors.Is(err, olap.ErrUnavailable) && strings.Contains(err.Error(), "in use") {
			return nil, fmt.Errorf("the project's engine is in use by another moose process: a server seems to be running "+
				"but none answered at %s; pass its --url, and --token (or set MOOSE_ADMIN_TOKEN) to go through it", base)
		}
		return nil, fmt.Errorf("opening the engine: %w", err)
	}
	defer st.Close()
	res, err := st.Query(ctx, sql, nil)
	if err != nil {
		if errors.Is(err, olap.ErrTableNotFound) {
			return nil, fmt.Errorf("%w: %s", olap.ErrTableNotFound, firstLine(err.Error()))
		}
		return nil, errors.New(firstLine(err.Error()))
	}
	return decodeRows(res.Columns, api.EncodeRows(res))
}

// serverAnswers reports whether GET base/health answers 200 within a
// short time.
func serverAnswers(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// quietLogger logs warnings and errors only, unless MOOSE_LOG_LEVEL says
// otherwise: CLI output stays the result.
func quietLogger(e *env) *slog.Logger {
	if e.getenv("MOOSE_LOG_LEVEL") != "" {
		return logger(e)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func runGenerateOpenAPI(_ context.Context, e *env, args []string) error {
	fs := newFlags("generate openapi", e)
	out := fs.String("o", "", "write to FILE (default: standard output)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	cfg, p, err := loadProject(e)
	if err != nil {
		return err
	}
	// The same options as the server's GET /openapi.yaml: the same bytes.
	doc, err := openapi.Generate(p, openapi.Options{PathPrefix: cfg.HTTPServer.PathPrefix})
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = e.stdout.Write(doc)
		return err
	}
	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(e.dir, path)
	}
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		return fmt.Errorf("writing the OpenAPI document: %w", err)
	}
	fmt.Fprintf(e.stderr, "wrote %s\n", *out)
	return nil
}

// peekSQL selects the latest n rows: by the model's sorting key, descending
// (a key that starts with the event time gives the newest first), or any n
// rows when the table has no key.
func peekSQL(m *project.Model, n int) string {
	sql := "SELECT * FROM " + chsql.QuoteIdent(m.Name)
	if len(m.OrderBy) > 0 {
		keys := make([]string, len(m.OrderBy))
		for i, c := range m.OrderBy {
			keys[i] = chsql.QuoteIdent(c) + " DESC"
		}
		sql += " ORDER BY " + strings.Join(keys, ", ")
	}
	return sql + " LIMIT " + strconv.Itoa(n)
}
