package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

//go:embed template
var template embed.FS

var projectName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func runInit(_ context.Context, e *env, args []string) error {
	fset := newFlags("init", e)
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one project name")
	}
	name := pos[0]
	if !projectName.MatchString(name) {
		return usagef("project name %q: use letters, digits, '.', '_' and '-'", name)
	}
	dir := filepath.Join(e.dir, name)
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s already exists; choose another name", dir)
	}
	err = fs.WalkDir(template, "template", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(path, "template"), "/")
		if rel == "gitignore" {
			rel = ".gitignore" // go:embed skips dot files; rename on the way out
		}
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := template.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("writing the project: %w", err)
	}
	fmt.Fprintf(e.stdout, "Created project %s.\n\nNext:\n  cd %s\n  moose dev\n"+
		"  curl -X POST localhost:4000/ingest/PageView -d '{\"id\":\"1\",\"ts\":\"2024-01-01T00:00:00Z\",\"path\":\"/\",\"user_id\":\"u1\"}'\n"+
		"  curl localhost:4000/api/top_pages\n", name, name)
	return nil
}
