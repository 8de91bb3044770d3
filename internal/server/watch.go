package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moose-go/moose/internal/admin"
	"github.com/moose-go/moose/internal/project"
)

// watchInterval is how often `moose dev` looks at the project files.
// Polling (not inotify) keeps it dependency-free and works on every file
// system; a project is a handful of small files.
const watchInterval = 300 * time.Millisecond

// watch reloads the project files when they change (dev only): it plans and
// applies the new map, destructive changes included, printing each change;
// a file that does not load leaves the running map in place.
func (s *Server) watch(ctx context.Context) {
	dir := filepath.Join(s.opt.Dir, s.cfg.SourceDir)
	last := fingerprint(dir)
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp := fingerprint(dir)
		if fp == last {
			continue
		}
		last = fp
		s.reload(ctx, dir)
	}
}

func (s *Server) reload(ctx context.Context, dir string) {
	out := s.opt.Out
	if out == nil {
		out = os.Stderr
	}
	p, warns, err := project.Load(dir)
	if err != nil {
		fmt.Fprintf(out, "moose dev: the project files have errors; still serving the previous version:\n  %s\n",
			strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return
	}
	for _, w := range warns {
		s.log.Warn("project: " + w.String())
	}
	plan, err := s.admin.Apply(ctx, admin.MapFromProject(p), p, true)
	if err != nil {
		fmt.Fprintf(out, "moose dev: could not apply the change; still serving the previous version: %v\n", err)
		return
	}
	if len(plan.Changes) == 0 {
		return
	}
	fmt.Fprintf(out, "moose dev: project files changed, applied %d change(s):\n", len(plan.Changes))
	for _, c := range plan.Changes {
		mark := ""
		if c.Destructive {
			mark = " (destructive)"
		}
		fmt.Fprintf(out, "  %s %s%s\n", c.Kind, c.Object, mark)
	}
}

// fingerprint hashes the names and contents of the *.toml files under dir.
func fingerprint(dir string) [32]byte {
	h := sha256.New()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".toml") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
