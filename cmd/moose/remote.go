package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/moose-go/moose/internal/admin"
	"github.com/moose-go/moose/internal/config"
	"github.com/moose-go/moose/internal/project"
)

// errNotYet is what a command that is not built yet returns.
var errNotYet = errors.New("not available in this build yet")

// runRemote is `moose remote plan ...`, MooseStack's spelling of moose plan.
func runRemote(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing the remote command: plan")
	}
	if args[0] != "plan" {
		return usagef("unknown remote command %q: want plan", args[0])
	}
	return runPlan(ctx, e, args[1:])
}

// runPlan sends the project files' map to a server's POST /admin/plan and
// prints what applying it would change. The server computes the plan with
// the function apply runs, so the two cannot disagree.
func runPlan(ctx context.Context, e *env, args []string) error {
	fs := newFlags("plan", e)
	rawURL := fs.String("url", "", "the server's address (default: from moose.config.toml, else http://localhost:4000)")
	token := fs.String("token", "", "the plain admin bearer token (default: MOOSE_ADMIN_TOKEN)")
	asJSON := fs.Bool("json", false, "print the server's changes as a JSON array")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	c, m, err := remoteSetup(e, *rawURL, *token)
	if err != nil {
		return err
	}
	var resp struct {
		Changes json.RawMessage `json:"changes"`
	}
	if _, err := c.call(ctx, http.MethodPost, "/admin/plan", map[string]any{"infra_map": m}, &resp); err != nil {
		return err
	}
	changes, err := decodeChanges(c, "/admin/plan", resp.Changes)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSONChanges(e.stdout, resp.Changes)
	}
	printPlan(e, changes)
	return nil
}

// runApply sends the project files' map to POST /admin/integrate-changes.
func runApply(ctx context.Context, e *env, args []string) error {
	fs := newFlags("apply", e)
	rawURL := fs.String("url", "", "the server's address (default: from moose.config.toml, else http://localhost:4000)")
	token := fs.String("token", "", "the plain admin bearer token (default: MOOSE_ADMIN_TOKEN)")
	allow := fs.Bool("allow-destructive", false, "apply changes that can lose data (dropped columns and tables, type changes)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	c, m, err := remoteSetup(e, *rawURL, *token)
	if err != nil {
		return err
	}
	var resp struct {
		Changes     json.RawMessage `json:"changes"`
		Error       string          `json:"error"`
		Destructive json.RawMessage `json:"destructive"`
	}
	const path = "/admin/integrate-changes"
	status, err := c.call(ctx, http.MethodPost, path, map[string]any{"infra_map": m, "allow_destructive": *allow}, &resp)
	if err != nil {
		return err
	}
	if status == http.StatusConflict {
		d, err := decodeChanges(c, path, resp.Destructive)
		if err != nil {
			return err
		}
		if len(d) == 0 { // busy, or a conflict this client does not know
			msg := strings.TrimSpace(planFirstLine(resp.Error))
			if msg == "" {
				msg = "409 Conflict"
			}
			return fmt.Errorf("the server did not apply the plan: %s", msg)
		}
		fmt.Fprintln(e.stdout, "Nothing was applied: the plan has changes that can lose data:")
		printChanges(e, d)
		return fmt.Errorf("%s can lose data; nothing was applied: re-run with --allow-destructive to apply it",
			planPlural(len(d), "change", "changes"))
	}
	changes, err := decodeChanges(c, path, resp.Changes)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		fmt.Fprintln(e.stdout, "No changes: the server already runs these project files.")
		return nil
	}
	fmt.Fprintln(e.stdout, "Applied:")
	printChanges(e, changes)
	fmt.Fprintf(e.stdout, "\n%s\n", planSummary(changes))
	return nil
}

// remoteSetup makes the admin client (URL and token first: they are the
// likelier mistakes) and the infrastructure map of the project files in the
// working directory.
func remoteSetup(e *env, rawURL, token string) (*adminClient, *admin.InfraMap, error) {
	c, err := newAdminClient(e, rawURL, token)
	if err != nil {
		return nil, nil, err
	}
	m, err := projectMap(e)
	if err != nil {
		return nil, nil, err
	}
	return c, m, nil
}

// projectMap loads the project files of the working directory, with the
// rules the server applies to them, and derives their map.
func projectMap(e *env) (*admin.InfraMap, error) {
	cfg, _, err := config.Load(e.dir, config.ModeDev, e.environ)
	if err != nil {
		if errors.Is(err, config.ErrNotProject) {
			return nil, fmt.Errorf("no %s in %s: run this in a moose project directory", config.FileName, e.dir)
		}
		return nil, err
	}
	p, warns, err := project.Load(filepath.Join(e.dir, cfg.SourceDir))
	if err != nil {
		return nil, fmt.Errorf("the project files have errors: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	for _, w := range warns {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	return admin.MapFromProject(p), nil
}

// decodeChanges reads a changes array from the server; absent is empty.
func decodeChanges(c *adminClient, path string, raw json.RawMessage) ([]admin.Change, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var cs []admin.Change
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, fmt.Errorf("unexpected answer from %s%s: changes: %v", c.base, path, err)
	}
	return cs, nil
}

func printJSONChanges(w io.Writer, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("[]")
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// printPlan prints a plan for people: one line per change with its DDL
// indented below, then a summary line.
func printPlan(e *env, changes []admin.Change) {
	if len(changes) == 0 {
		fmt.Fprintln(e.stdout, "No changes.")
		return
	}
	printChanges(e, changes)
	fmt.Fprintf(e.stdout, "\n%s\n", planSummary(changes))
}

func printChanges(e *env, changes []admin.Change) {
	color := e.isTerminal && e.getenv("NO_COLOR") == ""
	for _, c := range changes {
		fmt.Fprintln(e.stdout, changeLine(c, color))
		for _, l := range strings.Split(strings.TrimSpace(c.DDL), "\n") {
			if l != "" {
				fmt.Fprintf(e.stdout, "    %s\n", l)
			}
		}
	}
}

const (
	planGreen  = "\x1b[32m"
	planYellow = "\x1b[33m"
	planRed    = "\x1b[31m"
	planReset  = "\x1b[0m"
)

// changeLine is "+ create table PageView", "~ modify column PageView.n
// (destructive)", "- drop column PageView.x (destructive)": the kind's verb
// and the object; + adds, ~ changes, - removes.
func changeLine(c admin.Change, color bool) string {
	verb, _, _ := strings.Cut(c.Kind, "_")
	sym, col := "*", ""
	switch verb {
	case "create", "add":
		sym, col = "+", planGreen
	case "modify", "change":
		sym, col = "~", planYellow
	case "drop", "remove":
		sym, col = "-", planRed
	}
	if verb == "" {
		verb = c.Kind
	}
	line := sym + " " + verb + " " + c.Object
	if c.Destructive {
		line += " (destructive)"
	}
	if color && col != "" {
		line = col + line + planReset
	}
	return line
}

// planSummary is "N changes, M destructive".
func planSummary(changes []admin.Change) string {
	d := 0
	for _, c := range changes {
		if c.Destructive {
			d++
		}
	}
	return fmt.Sprintf("%s, %d destructive", planPlural(len(changes), "change", "changes"), d)
}

func planPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func planFirstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
