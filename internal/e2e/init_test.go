package e2e

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestInitProjectWorksAtOnce runs `moose init`, serves the project it
// wrote and uses its model and API: SPEC section 5's promise that a new
// project works with no edits.
func TestInitProjectWorksAtOnce(t *testing.T) {
	requireEngine(t)
	dir := t.TempDir()
	cmd := exec.Command(mooseBin, "init", "shop")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("moose init: %v\n%s", err, out)
	}
	for _, f := range []string{"moose.config.toml", "app/models.toml", ".gitignore"} {
		if _, err := os.Stat(filepath.Join(dir, "shop", f)); err != nil {
			t.Fatalf("moose init did not write %s: %v", f, err)
		}
	}
	models, err := os.ReadFile(filepath.Join(dir, "shop", "app", "models.toml"))
	must(t, err)
	// The harness writes its own moose.config.toml (free ports); the model
	// and API files are init's, unchanged.
	s := startServer(t, serverOpts{Models: map[string]string{"models.toml": string(models)}})
	r := s.ingest(t, "PageView", `[{"id":"1","ts":"2024-01-01T10:00:00Z","path":"/","user_id":"u1"},
		{"id":"2","ts":"2024-01-01 10:00:05","path":"/docs","user_id":"u2","duration_ms":35.5},
		{"id":"3","ts":"2024-01-02T00:00:00Z","path":"/","user_id":"u3"}]`)
	if r.Status != 200 {
		t.Fatalf("ingest: %s", r)
	}
	rows := s.query(t, "top_pages", url.Values{"limit": {"5"}})
	if len(rows) != 2 || rows[0]["path"] != "/" || asInt(t, rows[0]["views"]) != 2 {
		t.Fatalf("top_pages = %v", rows)
	}
	// Running init again on the same name refuses to overwrite.
	again := exec.Command(mooseBin, "init", "shop")
	again.Dir = dir
	if err := again.Run(); err == nil {
		t.Fatal("moose init over an existing directory succeeded")
	}
}
