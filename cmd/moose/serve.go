package main

import (
	"context"
	"runtime/debug"

	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/server"
)

// softMemoryLimit keeps the Go heap compact under ingest load (the engine's
// own memory is outside it); GOMEMLIMIT in the environment wins.
const softMemoryLimit = 256 << 20

func limitMemory(e *env) {
	if e.getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
}

func runDev(ctx context.Context, e *env, args []string) error {
	fs := newFlags("dev", e)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	limitMemory(e)
	return server.Run(ctx, server.Options{Dir: e.dir, Mode: config.ModeDev, Logger: logger(e),
		Out: e.stdout, Environ: e.environ, AllowDestructive: false, Pprof: e.getenv("MOOSE_PPROF") == "1"})
}

func runProd(ctx context.Context, e *env, args []string) error {
	fs := newFlags("prod", e)
	allow := fs.Bool("allow-destructive", false, "apply schema changes that can lose data")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	limitMemory(e)
	return server.Run(ctx, server.Options{Dir: e.dir, Mode: config.ModeProd, Logger: logger(e),
		Out: e.stdout, Environ: e.environ, AllowDestructive: *allow, Pprof: e.getenv("MOOSE_PPROF") == "1"})
}
